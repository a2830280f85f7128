#!/usr/bin/python3
"""fault_proxy.py - an HTTP proxy on 127.0.0.1 in front of the test S3
gateway that injects failures on request, for the S3 plugin's error-path
tests (retries, backoff, abort of multipart uploads, resumed downloads).

    fault_proxy.py --upstream http://127.0.0.1:PORT --port-file FILE

Listens on a free port and writes it to FILE.  Requests are forwarded
verbatim (the Host header too, so SigV4 signatures stay valid) unless a
rule of the plan matches.  Control requests (never forwarded):

    POST /__fault__/plan   JSON list of rules, replacing the plan:
        {"match": "PUT /bucket/key",   substring of "METHOD /path?query"
         "action": "status" | "hang" | "cut" | "lose_reply" | "slow" | "corrupt",
         "status": 503, "code": "SlowDown",   for "status"
         "seconds": 3,                        for "hang": then close; for
                                              "slow": forward, then wait
                                              this long before replying
         "after_bytes": 1000,                 for "cut": forward, send only
                                              this much of the body, close
         "times": 2,                          how many requests it hits
         "every": 3}                          only every 3rd matching request
                                              (the first, the 4th, ...)
      "lose_reply": forward (the request is carried out), then close
      without a reply: the ambiguous write a client must check.
      "corrupt": flip one byte of the request body before forwarding it
      (a PUT's payload no longer matches its signed SHA-256), or of a
      reply body ("where": "reply") before returning it.
    GET  /__fault__/log    JSON list of "METHOD /path?query -> STATUS"
    POST /__fault__/reset  empty the plan and the log

Stops on SIGTERM.
"""
import argparse
import http.client
import http.server
import json
import os
import signal
import socketserver
import sys
import threading
import time
import urllib.parse

HOP = {"connection", "keep-alive", "expect", "transfer-encoding", "proxy-connection", "te",
       "upgrade"}


class State:
    def __init__(self, upstream):
        self.upstream = urllib.parse.urlsplit(upstream)
        self.lock = threading.Lock()
        self.plan = []
        self.log = []

    def take_rule(self, line):
        with self.lock:
            for rule in self.plan:
                if rule.get("times", 1) > 0 and rule.get("match", "") in line:
                    rule["seen"] = rule.get("seen", 0) + 1
                    if (rule["seen"] - 1) % rule.get("every", 1):
                        continue
                    rule["times"] = rule.get("times", 1) - 1
                    return dict(rule)
        return None

    def record(self, line, status):
        with self.lock:
            self.log.append("%s -> %s" % (line, status))


def flip(data):
    """data with the bits of its middle byte inverted."""
    i = len(data) // 2
    return data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body=b"", headers=(), close=False):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def control(self):
        st = self.state
        if self.path == "/__fault__/plan":
            plan = json.loads(self.read_body() or b"[]")
            with st.lock:
                st.plan = plan
            self.reply(200)
        elif self.path == "/__fault__/log":
            with st.lock:
                body = json.dumps(st.log).encode()
            self.reply(200, body, [("Content-Type", "application/json")])
        elif self.path == "/__fault__/reset":
            self.read_body()
            with st.lock:
                st.plan, st.log = [], []
            self.reply(200)
        else:
            self.reply(404)

    def forward(self, body):
        up = self.state.upstream
        conn = http.client.HTTPConnection(up.hostname, up.port, timeout=60)
        conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for k, v in self.headers.items():
            if k.lower() not in HOP and k.lower() != "content-length":
                conn.putheader(k, v)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        data = resp.read()
        headers = [(k, v) for k, v in resp.getheaders()
                   if k.lower() not in HOP and k.lower() != "content-length"]
        conn.close()
        return resp.status, headers, data

    def handle_any(self):
        if self.path.startswith("/__fault__/"):
            return self.control()
        line = "%s %s" % (self.command, self.path)
        rule = self.state.take_rule(line)
        action = rule.get("action", "status") if rule else None
        # Always read the body first: http.server has already answered an
        # "Expect: 100-continue", and closing with unread bytes would make
        # the kernel reset the connection instead of delivering our reply.
        body = self.read_body()
        if action == "status":
            status = int(rule.get("status", 503))
            code = rule.get("code", "InjectedFault")
            body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>%s</Code>"
                    "<Message>injected by fault_proxy</Message></Error>" % code).encode()
            self.state.record(line, status)
            self.reply(status, body, [("Content-Type", "application/xml")], close=True)
            return
        if action == "hang":
            self.state.record(line, "hang")
            time.sleep(float(rule.get("seconds", 3)))
            self.close_connection = True
            return
        if action == "corrupt" and rule.get("where", "request") == "request" and body:
            body = flip(body)
        status, headers, data = self.forward(body)
        if action == "lose_reply":
            self.state.record(line, "%d lost" % status)
            self.close_connection = True
            return
        if action == "slow":
            time.sleep(float(rule.get("seconds", 3)))
        if action == "corrupt" and rule.get("where") == "reply" and data:
            data = flip(data)
            self.state.record(line, "%d corrupted" % status)
            self.reply(status, data, headers)
            return
        if action == "cut":
            keep = int(rule.get("after_bytes", 0))
            self.state.record(line, "%d cut at %d" % (status, keep))
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[:keep])
            self.wfile.flush()
            self.close_connection = True
            return
        self.state.record(line, status)
        self.reply(status, data, headers)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--port-file", required=True)
    args = ap.parse_args()
    Handler.state = State(args.upstream)
    srv = Server(("127.0.0.1", 0), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
