#!/usr/bin/python3
"""A small OpenAI-compatible chat-completions server for gnarl's LLM tests.

Standard library only.  Listens on 127.0.0.1, records every request (method,
path, headers, raw body, arrival time) as one JSON line, and answers each
POST .../chat/completions with the next behaviour of its script, or with the
default behaviour when the script is empty.

Usage:
    server.py --log requests.jsonl [--port 0] [--port-file FILE]
              [--default '{"kind": "action", "action": "UP"}'] [--no-bodies]
It prints "PORT <n>" on stdout and, with --port-file, writes the port to
FILE (atomically) once it accepts connections.  --no-bodies records each
request without its body and headers (benchmarks: a vision body is ~100 kB
of base64, and logging it costs CPU the trainer on the same machine would
otherwise have).

A behaviour is a JSON object:
    {"kind": "action", "action": "UP"}      content "SCENE: ...\\nACTION: UP"
    {"kind": "json", "action": "LEFT"}      content '{"action": "LEFT"}'
    {"kind": "text", "text": "..."}         content verbatim
    {"kind": "garbage"}                     content with no action in it
    {"kind": "truncated"}                   "SCENE: ...\\nACTION: U", finish_reason "length"
    {"kind": "status", "status": 429, "retry_after": 1, "error_type": "rate_limit"}
                                            an OpenAI-style error reply; retry_after
                                            (seconds) adds a Retry-After header
    {"kind": "quota"}                       429 with error type insufficient_quota
    {"kind": "close"}                       close the connection without a reply
    {"kind": "not_json"}                    200 with a body that is not JSON
    {"kind": "cut"}                         a 200 whose body stops halfway (the
                                            connection closes before Content-Length)
    {"kind": "bad_utf8"}                    content "ACTION: UP" wrapped in invalid UTF-8
    {"kind": "huge", "mb": 64}              a 200 of that many MiB of JSON (a
                                            string that never ends), sent as fast
                                            as the client reads
    {"kind": "advisor", "map": PATH, "mode": "helpful"|"random", "seed": N}
                                            "ACTION: <button>" from the overworld's
                                            map (advisor.py): the way to the next
                                            objective, or a random direction
Any behaviour may add "delay_ms": N (wait before answering) or "hold": true
(wait, without a time limit, until a control request releases held replies:
a test can then know a reply was not sent, whatever the machine's speed).

Control, by HTTP on the same port:
    POST /control  {"script": [b, ...], "append": false, "default": b,
                    "clear_log": false, "release": false}
        replaces (or with "append": true extends) the script, sets the
        default, optionally empties the log, and with "release" lets every
        held reply go; answers {"ok": true}.
    GET /control   {"requests": <chat requests seen>, "script_left": n,
                    "answered": <replies sent>, "held": <replies held now>}
    GET /health    {"ok": true}
"""

import argparse
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import advisor  # noqa: E402  (the "advisor" behaviour)


class State:
    def __init__(self, log_path, default, bodies=True):
        self.lock = threading.Lock()
        self.bodies = bodies
        self.log_path = log_path
        self.log = open(log_path, "a", encoding="utf-8")
        self.script = []
        self.default = default
        self.requests = 0
        self.answered = 0
        self.held = 0
        self.release = threading.Event()
        self.seq = 0
        self.advisor = advisor.Advisor()

    def next_behaviour(self):
        with self.lock:
            self.requests += 1
            if self.script:
                return dict(self.script.pop(0))
            return dict(self.default)

    def record(self, entry):
        with self.lock:
            self.seq += 1
            entry["seq"] = self.seq
            self.log.write(json.dumps(entry) + "\n")
            self.log.flush()

    def control(self, body):
        with self.lock:
            if "script" in body:
                if body.get("append"):
                    self.script.extend(body["script"])
                else:
                    self.script = list(body["script"])
            if "default" in body:
                self.default = body["default"]
            if body.get("clear_log"):
                self.log.truncate(0)
                self.log.seek(0)
                self.requests = 0
                self.answered = 0
            if body.get("release"):
                self.release.set()
                self.release = threading.Event()


def completion(content, finish_reason="stop"):
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "gnarl-test",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content},
            "finish_reason": finish_reason,
        }],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def error_body(status, error_type):
    return {"error": {"message": "test server says %d" % status, "type": error_type,
                      "code": error_type}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "gnarl-test-llm/1"

    def log_message(self, fmt, *args):  # keep test output quiet
        pass

    def send_json(self, status, obj, headers=None):
        data = json.dumps(obj).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def do_GET(self):
        state = self.server.state
        if self.path == "/control":
            with state.lock:
                info = {"requests": state.requests, "script_left": len(state.script),
                        "answered": state.answered, "held": state.held}
            self.send_json(200, info)
        elif self.path == "/health":
            self.send_json(200, {"ok": True})
        else:
            self.send_json(404, error_body(404, "not_found"))

    def do_POST(self):
        state = self.server.state
        raw = self.read_body()
        if self.path == "/control":
            try:
                state.control(json.loads(raw.decode("utf-8")))
            except (ValueError, TypeError, AttributeError) as e:
                self.send_json(400, {"error": str(e)})
                return
            self.send_json(200, {"ok": True})
            return
        if not self.path.endswith("/chat/completions"):
            self.send_json(404, error_body(404, "not_found"))
            return
        b = state.next_behaviour()
        entry = {"time": time.time(), "method": self.command, "path": self.path,
                 "behaviour": b}
        if state.bodies:
            entry["headers"] = {k.lower(): v for k, v in self.headers.items()}
            entry["body"] = raw.decode("utf-8", "replace")
        state.record(entry)
        if b.get("delay_ms"):
            time.sleep(b["delay_ms"] / 1000.0)
        if b.get("hold"):
            with state.lock:
                state.held += 1
                release = state.release
            release.wait()
            with state.lock:
                state.held -= 1
        try:
            self.answer(b, raw)
        finally:
            with state.lock:
                state.answered += 1

    def answer(self, b, raw):
        kind = b.get("kind", "action")
        if kind == "action":
            self.send_json(200, completion("SCENE: a test room.\nACTION: %s" % b["action"]))
        elif kind == "json":
            self.send_json(200, completion(json.dumps({"action": b["action"]})))
        elif kind == "text":
            self.send_json(200, completion(b["text"]))
        elif kind == "garbage":
            self.send_json(200, completion("I would walk towards the light and see what happens."))
        elif kind == "truncated":
            self.send_json(200, completion("SCENE: a very long description\nACTION: U", "length"))
        elif kind == "quota":
            self.send_json(429, error_body(429, "insufficient_quota"))
        elif kind == "status":
            status = int(b["status"])
            headers = {}
            if "retry_after" in b:
                headers["Retry-After"] = str(b["retry_after"])
            self.send_json(status, error_body(status, b.get("error_type", "test_error")), headers)
        elif kind == "close":
            self.close_connection = True
        elif kind == "cut":
            data = json.dumps(completion("SCENE: a test room.\nACTION: UP")).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[:len(data) // 2])
            self.close_connection = True
        elif kind == "bad_utf8":
            body = json.dumps(completion("@@SCENE@@\nACTION: UP\n")).encode()
            body = body.replace(b"@@", b"\xff\xfe\xc3(")
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif kind == "huge":
            total = int(b.get("mb", 64)) << 20
            head = b'{"choices": [{"message": {"content": "'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(head) + total))
            self.end_headers()
            self.wfile.write(head)
            chunk = b"A" * (1 << 16)
            for _ in range(total >> 16):
                self.wfile.write(chunk)
        elif kind == "advisor":
            action = self.server.state.advisor.answer(b, raw)
            self.send_json(200, completion("SCENE: the overworld.\nACTION: %s" % action))
        elif kind == "not_json":
            data = b"<html>bad gateway</html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        else:
            self.send_json(500, error_body(500, "unknown behaviour " + kind))


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that gave up (timeout, destroy) closes its end: normal here.
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--log", required=True)
    ap.add_argument("--default", default='{"kind": "action", "action": "UP"}')
    ap.add_argument("--no-bodies", action="store_true")
    args = ap.parse_args()

    server = Server(("127.0.0.1", args.port), Handler)
    server.state = State(args.log, json.loads(args.default), not args.no_bodies)
    port = server.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, args.port_file)
    print("PORT %d" % port, flush=True)
    try:
        server.serve_forever(poll_interval=0.05)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
