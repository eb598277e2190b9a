#!/usr/bin/env python3
# lagproxy.py LISTEN_PORT TARGET_PORT DELAY_MS: a TCP proxy on 127.0.0.1
# that holds every chunk from the client for DELAY_MS before forwarding it
# (about one round trip of latency per request), for measuring how many
# requests a client keeps in flight. On loopback every request is answered
# at once, so a client that waits on one request per worker looks as fast
# as one that keeps many in flight; behind real latency it is not. (This
# machine's kernel has no netem for `tc`.) See README.md, "Latency".
import socket, socketserver, sys, threading, time
lport, tport, delay = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]) / 1000
def pump(a, b, lag):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            if lag:
                time.sleep(lag)
            b.sendall(d)
    except OSError:
        pass
    finally:
        try: b.shutdown(socket.SHUT_WR)
        except OSError: pass
class H(socketserver.BaseRequestHandler):
    def handle(self):
        up = socket.create_connection(("127.0.0.1", tport))
        t = threading.Thread(target=pump, args=(up, self.request, 0), daemon=True)
        t.start()
        pump(self.request, up, delay)
        t.join()
        up.close()
class S(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
S(("127.0.0.1", lport), H).serve_forever()
