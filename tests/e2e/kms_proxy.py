#!/usr/bin/env python3
# kms_proxy.py PORTFILE TARGET_PORT: an HTTP proxy on 127.0.0.1 in front
# of an S3 server (Swift's S3 API here) that answers as AWS does for a
# bucket encrypted with SSE-KMS, which no server this machine can run
# does: every object answer carries `x-amz-server-side-encryption:
# aws:kms`, and an object's ETag (in its answers and in listings) is not
# the MD5 of its bytes: 32 hex digits all the same, one per object, as
# AWS gives them.
# Requests go through unchanged (their SigV4 signatures stay valid),
# but for a server-side copy conditional on its source's ETag
# (x-amz-copy-source-if-match): an ETag of this proxy's is put back as the
# server's own and the request signed again (botocore, with the
# AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY of this proxy's environment),
# so that the condition holds where AWS would honour it.
#
# kms_proxy.py PORTFILE TARGET_PORT plain: no KMS, the server's answers
# as they are (for the KMS_PROXY_* faults below).
#
# kms_proxy.py PORTFILE TARGET_PORT stale KEY MD5 [DELAY [HEADFAILS]]: no
# KMS, but the listings give object KEY the ETag MD5, as a listing made
# just before the object was replaced (the same size) would; its own
# answers give the truth. With DELAY (seconds, may be 0), a server-side
# copy from KEY is held that long before it goes on (a slow copy of a
# large object), so that what other clients do meanwhile comes first.
# With HEADFAILS, the first HEADFAILS HEADs of objects under a "heap/"
# prefix made after a server-side copy went through are answered 503 (the
# check after a copy into a heap fails).
#
# With KMS_PROXY_COPY_IF=ignore in its environment, a copy's condition
# is dropped (the request signed again), as a store that does not honour
# it (s3rver) would; with KMS_PROXY_LOSE_COPY=N, the answers of the first
# N server-side copies into a "heap/" prefix are lost: the copy is made
# and the client's connection closed without an answer;
# KMS_PROXY_LOSE_DELETE=N does the same to the first N DeleteObjects
# (POST ?delete): the objects are deleted, the client hears nothing.
#
# The port it listens on is written to PORTFILE once it accepts; each
# request is logged to PORTFILE.log as "METHOD PATH", with
# " <- SOURCE copy" for a server-side copy (x-amz-copy-source), and the
# status a copy was answered as "COPIED STATUS PATH".
import hashlib, html, http.client, http.server, os, re, socketserver, sys
import threading, time, urllib.parse

portfile, target = sys.argv[1], int(sys.argv[2])
stale = (sys.argv[4].encode(), sys.argv[5].encode()) \
    if len(sys.argv) > 5 and sys.argv[3] == "stale" else None
# neither KMS nor a stale listing: the server as it is
kms = not stale and not (len(sys.argv) > 3 and sys.argv[3] == "plain")
copy_delay = float(sys.argv[6]) if stale and len(sys.argv) > 6 else 0
head_fails = [int(sys.argv[7]) if stale and len(sys.argv) > 7 else 0]
copied = [False]   # a server-side copy went through
copy_if = os.environ.get("KMS_PROXY_COPY_IF", "honour")
lose_copies = [int(os.environ.get("KMS_PROXY_LOSE_COPY", "0"))]
lose_deletes = [int(os.environ.get("KMS_PROXY_LOSE_DELETE", "0"))]
COPY_IF = "x-amz-copy-source-if-match"
local = threading.local()
log_lock = threading.Lock()
ETAG_XML = re.compile(rb'(<ETag>(?:&quot;|&#34;|")?)([0-9a-fA-F]{32})'
                      rb'((?:&quot;|&#34;|")?</ETag>)')
CONTENTS = re.compile(rb'<Contents>.*?</Contents>', re.S)
KEY = re.compile(rb'<Key>(.*?)</Key>', re.S)


def fake(key, hexdigest):
    # never the MD5; one per object as AWS's (two objects of one content
    # have two ETags), the same in a listing and in the object's answers
    return hashlib.md5(b"kms:" + key + b":" + hexdigest.lower()).hexdigest(
        ).encode()


def xml_etags(body, key):
    # a listing: each <Contents> by its own <Key>; else the object's
    def one(block, k):
        return ETAG_XML.sub(lambda m: m.group(1) + fake(k, m.group(2)) +
                            m.group(3), block)

    def contents(m):
        k = KEY.search(m.group(0))
        key = html.unescape(k.group(1).decode()).encode() if k else b""
        if not kms:
            if not stale or key != stale[0]:
                return m.group(0)
            # whatever it was (a multipart "...-N" too)
            return re.sub(rb'<ETag>.*?</ETag>',
                          lambda e: b'<ETag>&quot;' + stale[1] +
                          b'&quot;</ETag>', m.group(0), flags=re.S)
        return one(m.group(0), key)
    if b"<Contents>" in body:
        return CONTENTS.sub(contents, body)
    return one(body, key) if kms else body


boto = [None, threading.Lock()]   # a client of the server, made once


def upstream_etag(source):
    # the server's own ETag of a copy's source "BUCKET/KEY"
    with boto[1]:
        if boto[0] is None:
            import boto3
            boto[0] = boto3.session.Session().client(
                "s3", endpoint_url="http://127.0.0.1:%d" % target,
                region_name="us-east-1")
    bucket, key = source.lstrip("/").split("/", 1)
    return boto[0].head_object(Bucket=bucket, Key=key)["ETag"].strip('"')


def resign(command, path, hdrs, data):
    # the same request signed again after a header was changed
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    auth = hdrs.get("Authorization", "")
    region = re.search(r"Credential=[^/]+/\d+/([^/]+)/s3/", auth).group(1)
    h = {k: v for k, v in hdrs.items()
         if k.lower() not in ("authorization", "x-amz-date")}
    req = AWSRequest(method=command, url="http://%s%s" % (hdrs["Host"], path),
                     data=data, headers=h)
    S3SigV4Auth(Credentials(os.environ["AWS_ACCESS_KEY_ID"],
                            os.environ["AWS_SECRET_ACCESS_KEY"]),
                "s3", region).add_auth(req)
    return dict(req.headers.items())


def copy_condition(hdrs, source):
    # the condition as the server should judge it, or None to drop it
    cond = hdrs[COPY_IF]
    if copy_if == "ignore":
        return None
    if not kms:
        return cond     # a real ETag (the listed one): the server judges
    key = source.lstrip("/").split("/", 1)[1].encode()
    real = upstream_etag(source)
    return '"%s"' % real if cond.strip('"') == fake(key, real.encode()
                                                    ).decode() else cond


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                n = int(self.rfile.readline().split(b";")[0], 16)
                if n == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(n)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def upstream(self):
        c = getattr(local, "conn", None)
        if c is None:
            c = local.conn = http.client.HTTPConnection("127.0.0.1", target,
                                                        timeout=120)
        return c

    def forward(self):
        data = self.body()
        with log_lock, open(portfile + ".log", "a") as log:
            log.write("%s %s%s\n" % (self.command, self.path,
                      " <- %s copy" % self.headers["x-amz-copy-source"]
                      if "x-amz-copy-source" in self.headers else ""))
        source = urllib.parse.unquote(
            self.headers.get("x-amz-copy-source", "")).split("?")[0]
        if copy_delay and source.endswith("/" + stale[0].decode()):
            time.sleep(copy_delay)
        if source:
            copied[0] = True
        if self.command == "HEAD" and "/heap/" in self.path:
            with log_lock:
                fail = copied[0] and head_fails[0] > 0
                head_fails[0] -= fail
            if fail:
                with log_lock, open(portfile + ".log", "a") as log:
                    log.write("%s %s 503\n" % (self.command, self.path))
                self.send_response_only(503, "Slow Down")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        hop = {"connection", "keep-alive", "transfer-encoding", "expect",
               "content-length"}
        hdrs = {k: v for k, v in self.headers.items() if k.lower() not in hop}
        if data or self.command in ("PUT", "POST"):
            hdrs["Content-Length"] = str(len(data))
        cond = next((k for k in hdrs if k.lower() == COPY_IF), None)
        if source and cond:
            v = copy_condition({COPY_IF: hdrs[cond]}, source)
            if v != hdrs[cond]:
                del hdrs[cond]
                if v is not None:
                    hdrs[COPY_IF] = v
                hdrs = resign(self.command, self.path, hdrs, data)
        for attempt in (0, 1):
            try:
                c = self.upstream()
                c.request(self.command, self.path, body=data, headers=hdrs)
                r = c.getresponse()
                out = r.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError,
                    ConnectionResetError):
                # a kept-alive connection the server closed meanwhile
                local.conn = None
                if attempt:
                    raise
        if source:
            with log_lock, open(portfile + ".log", "a") as log:
                log.write("COPIED %d %s\n" % (r.status, self.path))
            with log_lock:
                lose = "/heap/" in self.path and lose_copies[0] > 0
                lose_copies[0] -= lose
            if lose:
                with log_lock, open(portfile + ".log", "a") as log:
                    log.write("LOST %s\n" % self.path)
                self.close_connection = True   # no answer at all
                return
        if self.command == "POST" and "delete" in \
                urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query,
                                      keep_blank_values=True):
            with log_lock:
                lose = lose_deletes[0] > 0
                lose_deletes[0] -= lose
            if lose:
                with log_lock, open(portfile + ".log", "a") as log:
                    log.write("LOST DELETE %d %s\n" % (r.status, self.path))
                self.close_connection = True   # no answer at all
                return
        # a part's ETag is the client's to send back as it came
        part = "partNumber=" in self.path and "uploadId=" in self.path
        # path-style: /BUCKET/KEY
        key = urllib.parse.unquote(self.path.split("?")[0]).split("/", 2)
        key = key[2].encode() if len(key) > 2 else b""
        self.send_response_only(r.status, r.reason)
        for k, v in r.getheaders():
            lk = k.lower()
            if lk in ("connection", "keep-alive", "transfer-encoding",
                      "content-length"):
                continue
            if lk == "etag" and not part and kms:
                m = re.fullmatch(r'"?([0-9a-fA-F]{32})"?', v)
                if m:
                    v = '"%s"' % fake(key, m.group(1).encode()).decode()
            self.send_header(k, v)
        if kms:
            self.send_header("x-amz-server-side-encryption", "aws:kms")
            self.send_header("x-amz-server-side-encryption-aws-kms-key-id",
                             "arn:aws:kms:us-east-1:111122223333:key/test")
        if self.command == "HEAD":
            self.send_header("Content-Length",
                             r.getheader("Content-Length", "0"))
            self.end_headers()
            return
        if not part and "xml" in (r.getheader("Content-Type") or ""):
            out = xml_etags(out, key)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = forward


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


srv = Server(("127.0.0.1", 0), Handler)
with open(portfile + ".tmp", "w") as f:
    f.write("%d\n" % srv.server_address[1])
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
