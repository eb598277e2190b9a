#!/usr/bin/env python3
"""putsink.py PORTFILE: the plain-PUT ceiling of bench/objstore.sh.

A minimal S3 endpoint on 127.0.0.1, in memory, that does as little as a
store can: a PUT is read, its MD5 checked against Content-MD5 when sent
(a wrong one is 400 BadDigest) and answered 200 with that MD5 as ETag;
it keeps each object's size, ETag and x-amz-meta-* headers for HEAD and
ListObjectsV2 (prefix, delimiter, continuation), and the bytes of
objects up to 1 MiB (locks, snapshots) for GET; larger bodies are
dropped (a GET of one is 501). DELETE, a bucket's HEAD and PUT, and a
copy (x-amz-copy-source) are understood; anything else is 501. No
signature is checked. A client uploading to it runs at its own pace, not
an emulator's (s3rver and Azurite use most of the 2 cores here): that is
the ceiling at which the bench compares the clients.

It writes the port it listens on to PORTFILE and serves until killed.
"""
import base64
import bisect
import hashlib
import http.server
import socketserver
import sys
import threading
import time
import urllib.parse
from xml.sax.saxutils import escape

KEEP_MAX = 1 << 20

lock = threading.Lock()
keys = []        # sorted "bucket/key"
objects = {}     # "bucket/key" -> (size, etag, meta headers, body or None)


def http_date(t):
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(t))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive, as a real store
    # headers and body go in two writes: without TCP_NODELAY the body
    # waits for the client's delayed ACK, 40 ms per answer with a body
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def answer(self, status, body=b"", headers=(), length=None):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length",
                         str(len(body) if length is None else length))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def target(self):
        u = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(u.path).lstrip("/")
        q = urllib.parse.parse_qs(u.query, keep_blank_values=True)
        bucket, _, key = path.partition("/")
        return bucket, key, {k: v[0] for k, v in q.items()}

    def read_body(self):
        n = int(self.headers.get("Content-Length", "0"))
        md5, parts, kept = hashlib.md5(), [], 0
        while n > 0:
            chunk = self.rfile.read(min(n, 1 << 20))
            if not chunk:
                raise ConnectionError("short body")
            md5.update(chunk)
            kept += len(chunk)
            if kept <= KEEP_MAX:
                parts.append(chunk)
            n -= len(chunk)
        return md5, b"".join(parts)

    def object_headers(self, o):
        size, etag, meta, _ = o
        return [("ETag", etag), ("Last-Modified", http_date(time.time()))] + \
            list(meta)

    def do_HEAD(self):
        bucket, key, _ = self.target()
        if not key:
            self.answer(200)
            return
        o = objects.get(bucket + "/" + key)
        if not o:
            self.answer(404)
            return
        self.answer(200, headers=self.object_headers(o), length=o[0])

    def do_GET(self):
        bucket, key, q = self.target()
        if not key:
            self.list(bucket, q)
            return
        o = objects.get(bucket + "/" + key)
        if not o:
            self.answer(404, b"<Error><Code>NoSuchKey</Code></Error>")
        elif o[3] is None:
            self.answer(501, b"<Error><Code>NotKept</Code></Error>")
        else:
            self.answer(200, o[3], self.object_headers(o))

    def list(self, bucket, q):
        prefix = q.get("prefix", "")
        delim = q.get("delimiter", "")
        after = q.get("continuation-token") or q.get("start-after") or ""
        limit = max(1, min(1000, int(q.get("max-keys", "1000"))))
        base = bucket + "/"
        out, prefixes, last = [], [], None
        with lock:
            i = bisect.bisect_left(keys, base + prefix)
            if after:
                # after a common prefix: past every key under it
                skip = after + "\U0010ffff" if delim and \
                    after.endswith(delim) else after
                i = max(i, bisect.bisect_right(keys, base + skip))
            while i < len(keys) and keys[i].startswith(base + prefix) and \
                    len(out) + len(prefixes) < limit:
                k = keys[i][len(base):]
                rest = k[len(prefix):]
                if delim and delim in rest:
                    p = prefix + rest.split(delim, 1)[0] + delim
                    prefixes.append(p)
                    last = p
                    i = bisect.bisect_left(keys, base + p + "\U0010ffff")
                    continue
                out.append((k, objects[keys[i]]))
                last = k
                i += 1
            more = i < len(keys) and keys[i].startswith(base + prefix)
        x = ['<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult '
             'xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
             "<Name>%s</Name><Prefix>%s</Prefix><KeyCount>%d</KeyCount>"
             "<MaxKeys>%d</MaxKeys><IsTruncated>%s</IsTruncated>"
             % (escape(bucket), escape(prefix), len(out) + len(prefixes),
                limit,
                "true" if more else "false")]
        if more:
            x.append("<NextContinuationToken>%s</NextContinuationToken>"
                     % escape(last))
        for k, o in out:
            x.append("<Contents><Key>%s</Key><Size>%d</Size><ETag>%s</ETag>"
                     "<LastModified>%s</LastModified></Contents>"
                     % (escape(k), o[0], escape(o[1]),
                        time.strftime("%Y-%m-%dT%H:%M:%S.000Z")))
        for p in prefixes:
            x.append("<CommonPrefixes><Prefix>%s</Prefix></CommonPrefixes>"
                     % escape(p))
        x.append("</ListBucketResult>")
        self.answer(200, "".join(x).encode(),
                    [("Content-Type", "application/xml")])

    def store(self, name, o):
        with lock:
            if name not in objects:
                bisect.insort(keys, name)
            objects[name] = o

    def do_PUT(self):
        bucket, key, q = self.target()
        md5, body = self.read_body()
        if not key:
            self.answer(200)
            return
        name = bucket + "/" + key
        src = self.headers.get("x-amz-copy-source")
        if src:
            o = objects.get(urllib.parse.unquote(src).lstrip("/"))
            if not o:
                self.answer(404, b"<Error><Code>NoSuchKey</Code></Error>")
                return
            self.store(name, o)
            self.answer(200, ("<CopyObjectResult><ETag>%s</ETag>"
                              "</CopyObjectResult>" % escape(o[1])).encode())
            return
        if "uploadId" in q or "partNumber" in q:
            self.answer(501)
            return
        sent = self.headers.get("Content-MD5")
        if sent and base64.b64decode(sent) != md5.digest():
            self.answer(400, b"<Error><Code>BadDigest</Code></Error>")
            return
        size = int(self.headers.get("Content-Length", "0"))
        meta = [(k, v) for k, v in self.headers.items()
                if k.lower().startswith("x-amz-meta-")]
        etag = '"%s"' % md5.hexdigest()
        self.store(name, (size, etag, meta,
                          body if size <= KEEP_MAX else None))
        self.answer(200, headers=[("ETag", etag)])

    def do_DELETE(self):
        bucket, key, _ = self.target()
        name = bucket + "/" + key
        with lock:
            if objects.pop(name, None) is not None:
                del keys[bisect.bisect_left(keys, name)]
        self.answer(204)

    def do_POST(self):
        self.read_body()
        self.answer(501)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 256


def main():
    srv = Server(("127.0.0.1", 0), Handler)
    with open(sys.argv[1], "w") as f:
        f.write("%d\n" % srv.server_address[1])
    srv.serve_forever()


if __name__ == "__main__":
    main()
