#!/usr/bin/python3
"""Integration tests of the web HUD (core/hud*.c) in `gnarl train`: the real
binary on the overworld, clients written here with the standard library
(urllib, a socket for the event stream, zlib for PNG), all on 127.0.0.1.

Usage: hud_train.py MODE GNARL CONFIG WORKDIR [CHROMIUM]
  live    training with hud.port set and llm_text asking the test LLM
          server (tests/llm/server.py, which answers RIGHT): while it trains,
          /api/metrics grows and holds every reward term, the learner's
          scalars and the LLM gauges, with exactly the values progress.csv
          has for the same iterations; /api/events delivers the next
          iteration; /frame.png decodes to a 160x144 frame of the world;
          /api/llm lists RIGHT from llm_text; the page is served; a POST is
          refused.  SIGINT ends the run cleanly and the port is closed.
  errors  hud.port already in use: exit 2 naming the port and the key's
          place in the config, and no run directory is made; a hud.bind
          that is not an IP address: exit 2 naming hud.bind.
  crowd   100 clients at once, each from an address of its own on 127/8
          (80 fetching /api/metrics, 20 opening event streams), and 40
          slowloris connections from 127.0.0.2 trickling their headers:
          every answer is a whole reply (200, or 503 past the 8 streams)
          or a refused connection, never a broken one; training goes on
          meanwhile; a client on 127.0.0.1 is served during the slowloris;
          the trainer's memory grows by less than the crowd could make it.
  page    (with CHROMIUM) headless Chromium opens the page while a run
          trains: the DOM has a chart per scalar, the header's iteration,
          the frame loaded; the screenshot (WORKDIR/hud_page.png) has the
          curves drawn in the chart colour.
  archive the archive of start states (archive.enabled): /api/archive's
          rooms add up to the archive/cells gauge of the same iteration,
          with a frontier; 404 without an archive; with CHROMIUM, the page
          describes it and draws the frontier (WORKDIR/hud_archive.png).
"""
import csv
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import llm_train  # noqa: E402  (its Train: gnarl train with stderr on a thread)
from browser import Browser  # noqa: E402

SERVER = os.path.join(HERE, "..", "llm", "server.py")
# A safety net against a hung run, not a measure: every wait is for an event.
DEADLINE_S = 600  # a bound on a hang (a Chromium load under ASan with the other core busy)
TERMS = ("room_discovery", "grid_exploration", "movement", "dungeon_entry", "combat",
         "health", "death", "milestones", "time_penalty")


def fail(msg):
    raise SystemExit("FAIL: " + msg)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http(port, path, method="GET"):
    """(status, content type, body) of one request."""
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers.get("Content-Type"), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read()


def png_decode(data):
    """(width, height, rows of RGB(A) bytes) of an 8-bit RGB/RGBA PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail("not a PNG")
    pos, idat, w = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            if depth != 8 or ctype not in (2, 6):
                fail("PNG of depth %d colour type %d" % (depth, ctype))
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw, rows, prev = zlib.decompress(idat), [], bytearray(w * bpp)
    stride = w * bpp + 1
    for y in range(h):
        f, line = raw[y * stride], bytearray(raw[y * stride + 1:(y + 1) * stride])
        for i in range(len(line)):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


class Train(llm_train.Train):
    """`gnarl train`, its stderr read on a thread (llm_train.py's)."""

    def until_iteration(self, n):
        if self.iter < n:
            self.wait_for("iteration %d" % n, lambda line: self.iter >= n)


def train_args(gnarl, config, work, name, port, extra=()):
    return [gnarl, "train", "-c", config, "--set", "run.storage=" + work,
            "--set", "run.name=" + name, "--set", "hud.port=%d" % port,
            "--set", "env.num_envs=8", "--set", "ppo.rollout_steps=64",
            "--set", "ppo.minibatch_size=256", "--set", "ppo.epochs=1",
            "--set", "policy.hidden=[32]", "--set", "checkpoint.every=0",
            "--set", "ppo.total_steps=1000000000", "--set", "metrics.upload_every=1",
            "--set", "log.every_seconds=0"] + list(extra)


class LlmServer:
    def __init__(self, work):
        port_file = os.path.join(work, "llm_port")
        if os.path.exists(port_file):
            os.unlink(port_file)
        self.proc = subprocess.Popen(
            [sys.executable, SERVER, "--log", os.path.join(work, "llm_requests.jsonl"),
             "--port", "0", "--port-file", port_file, "--no-bodies", "--default",
             '{"kind": "action", "action": "RIGHT"}'], stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(work, "llm_server.log"), "w"))
        end = time.time() + 30
        while not os.path.exists(port_file) or not open(port_file).read().strip():
            if time.time() > end or self.proc.poll() is not None:
                fail("the LLM test server did not start")
            time.sleep(0.01)
        self.port = int(open(port_file).read())

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait()


def next_event(port, after_iteration):
    """Open /api/events?after=N as the page does and return the first message
    (a dict), which must be iteration N + 1."""
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    s.sendall(b"GET /api/events?after=%d HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"
              % after_iteration)
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += s.recv(4096)
    head, buf = buf.split(b"\r\n\r\n", 1)
    if b" 200 " not in head.split(b"\r\n")[0] or b"text/event-stream" not in head:
        fail("/api/events answered:\n%s" % head.decode())
    while True:
        while b"\n\n" not in buf:
            more = s.recv(65536)
            if not more:
                fail("the event stream ended")
            buf += more
        msg, buf = buf.split(b"\n\n", 1)
        for line in msg.decode().split("\n"):
            if line.startswith("data: "):
                s.close()
                m = json.loads(line[6:])
                if m["iteration"] != after_iteration + 1:
                    fail("the stream after iteration %d sent iteration %d"
                         % (after_iteration, m["iteration"]))
                return m


def same(a, b):
    """HUD value a (JSON, exact) against progress.csv text b, which holds the
    fewest digits that read back as the same float when the value is
    exactly a float, else as the same double (core/metrics.h)."""
    if a is None or b in ("", "nan"):
        return a is None and b in ("", "nan")
    b = float(b)
    return a == b or a == struct.unpack("f", struct.pack("f", b))[0]


def check_metrics_vs_csv(work, name, m):
    with open(os.path.join(work, name, "progress.csv")) as f:
        table = {int(r["iteration"]): r for r in csv.DictReader(f)}
    checked = 0
    for k, it in enumerate(m["iteration"]):
        row = table.get(it)
        if row is None:
            continue  # flushed after we read the file
        if int(row["env_steps"]) != m["env_steps"][k]:
            fail("iteration %d: env_steps %s in progress.csv, %d in the HUD"
                 % (it, row["env_steps"], m["env_steps"][k]))
        for col, text in row.items():
            if col in ("iteration", "env_steps"):
                continue
            if col not in m["series"]:
                fail("progress.csv column %s is not in /api/metrics" % col)
            if not same(m["series"][col][k], text):
                fail("iteration %d, %s: %r in progress.csv, %r in the HUD"
                     % (it, col, text, m["series"][col][k]))
        checked += 1
    if checked < 3:
        fail("only %d iterations to compare with progress.csv" % checked)
    return checked


def live(gnarl, config, work):
    llm = LlmServer(work)
    port = free_port()
    url = "http://127.0.0.1:%d" % llm.port
    llm_set = ("llm=[{plugin: llm_text, probability: 0.05, ttl: 32, cache_ttl_steps: 0, "
               "params: {endpoint: \"%s\", timeout_ms: 3000, max_retries: 0}}]" % url)
    t = Train(train_args(gnarl, config, work, "live", port, ["--set", llm_set]))
    try:
        t.until_iteration(6)
        st, ctype, body = http(port, "/api/metrics")
        if st != 200 or ctype != "application/json":
            fail("/api/metrics: %s %s" % (st, ctype))
        m = json.loads(body)
        if m["env"] != "overworld" or m["n_envs"] != 8 or m["rollout_steps"] != 64:
            fail("/api/metrics run: %r" % {k: m[k] for k in ("env", "n_envs", "rollout_steps")})
        if m["title"] != "live" or not m["has_frames"]:
            fail("/api/metrics: title %r, has_frames %r" % (m["title"], m["has_frames"]))
        rows = m["rows"]
        if rows < 4 or len(m["iteration"]) != rows or m["iteration"][0] != 1:
            fail("/api/metrics: %d rows, iterations %r" % (rows, m["iteration"][:5]))
        want = ["ep_return_mean", "sps", "policy_loss", "value_loss", "entropy",
                "reward/llm_text", "llm_text/requests", "llm_text/suggestions"]
        want += ["reward/" + x for x in TERMS]
        for name in want:
            if name not in m["series"] or len(m["series"][name]) != rows:
                fail("/api/metrics: no full series %s (names: %s)" % (name, m["names"]))
        n = check_metrics_vs_csv(work, "live", m)
        print("live: %d iterations in /api/metrics equal progress.csv" % n)

        ev = next_event(port, m["iteration"][-1])
        for name in ("ep_return_mean", "reward/room_discovery", "llm_text/requests"):
            if name not in ev["scalars"]:
                fail("event without %s: %r" % (name, sorted(ev["scalars"])))
        print("live: /api/events sent iteration %d" % ev["iteration"])

        st, ctype, body = http(port, "/frame.png")
        if st != 200 or ctype != "image/png":
            fail("/frame.png: %s %s" % (st, ctype))
        w, h, bpp, px = png_decode(body)
        colours = {px[y][x * 3:x * 3 + 3] for y in range(0, h, 4) for x in range(0, w, 4)}
        if (w, h) != (160, 144) or len(colours) < 4:
            fail("/frame.png: %dx%d with %d colours" % (w, h, len(colours)))

        # suggestions: the server answers RIGHT; wait for the first one
        while True:
            st, ctype, body = http(port, "/api/llm")
            j = json.loads(body)
            if st != 200 or not j["enabled"] or j["sources"] != [{"name": "llm_text", "ttl": 32}]:
                fail("/api/llm: %s %r" % (st, j))
            if j["suggestions"]:
                break
            t.until_iteration(t.iter + 1)
        s = j["suggestions"][0]
        if s["action"] != "RIGHT" or s["source"] != "llm_text" or not 0 <= s["env"] < 8:
            fail("/api/llm suggestion: %r" % s)
        print("live: /api/llm lists %d suggestions, the newest %r" % (len(j["suggestions"]), s))

        st, ctype, body = http(port, "/")
        if st != 200 or not ctype.startswith("text/html") or b"<canvas" not in body:
            fail("/: %s %s" % (st, ctype))
        st, _, _ = http(port, "/api/metrics", "POST")
        if st != 405:
            fail("POST /api/metrics: %d, expected 405" % st)
    finally:
        try:
            if t.proc.poll() is None:
                t.finish()
        finally:
            llm.stop()
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        fail("port %d still open after the run" % port)
    except ConnectionRefusedError:
        pass
    print("live: ok")


def errors(gnarl, config, work):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    args = train_args(gnarl, config, work, "busy", port)
    p = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                       timeout=DEADLINE_S)
    taken.close()
    want = "hud.port: port %d on 127.0.0.1 is already in use" % port
    if p.returncode != 2 or want not in p.stderr or "--set hud.port=%d" % port not in p.stderr:
        fail("port in use: exit %d, stderr:\n%s" % (p.returncode, p.stderr))
    if os.path.exists(os.path.join(work, "busy")):
        fail("a run directory was made for a run that could not start")
    args = train_args(gnarl, config, work, "badbind", free_port(), ["--set", "hud.bind=nowhere"])
    p = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                       timeout=DEADLINE_S)
    if p.returncode != 2 or not re.search(r"hud\.bind: 'nowhere' is not an IP address", p.stderr):
        fail("bad bind: exit %d, stderr:\n%s" % (p.returncode, p.stderr))
    print("errors: ok")


SANITIZER = re.compile(r"ERROR: (Address|Leak)Sanitizer|runtime error: ")


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        return max(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))


def client(port, source, path, out, hold=None):
    """One request from `source` (an address on 127/8); its status, or
    'refused'/'broken', lands in out.  With `hold` (an Event), an event
    stream is kept open until it is set."""
    s = socket.socket()
    try:
        s.settimeout(120)
        s.bind((source, 0))
        s.connect(("127.0.0.1", port))
        s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                  % path.encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        if not data:
            out.append("refused")  # accepted and closed at once: over a limit
            return
        head = data.split(b"\r\n")[0].decode()
        status = int(head.split()[1])
        if hold is not None and status == 200:
            hold.wait()
        else:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            body = data.split(b"\r\n\r\n", 1)[1]
            if status == 200 and path.startswith("/api/metrics"):
                json.loads(body)
        out.append(status)
    except (ConnectionResetError, ConnectionRefusedError, BrokenPipeError):
        out.append("refused")
    except (ValueError, IndexError, socket.timeout) as e:
        out.append("broken: %r" % e)
    finally:
        s.close()


def slowloris(port, source, started, stop, out, sent):
    """Headers one byte every 0.2 s (never finished) until stop is set;
    'closed' when the server closed the connection meanwhile, else 'held'.
    sent[0] counts the bytes sent, by every slowloris thread."""
    s = socket.socket()
    try:
        s.bind((source, 0))
        s.connect(("127.0.0.1", port))
        started.release()
        for b in b"GET /api/metrics HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 10000:
            sent[0] += 1
            if stop.wait(0.2):
                break
            s.send(bytes([b]))
            s.setblocking(False)
            try:
                if s.recv(1) == b"":
                    raise ConnectionResetError
            except BlockingIOError:
                pass
            s.setblocking(True)
        out.append("held")
    except (ConnectionResetError, BrokenPipeError, OSError):
        out.append("closed")
    finally:
        s.close()


def crowd(gnarl, config, work):
    port = free_port()
    t = Train(train_args(gnarl, config, work, "crowd", port))
    stop, hold, started = threading.Event(), threading.Event(), threading.Semaphore(0)
    slow, answers, threads, sent = [], [], [], [0]
    try:
        t.until_iteration(3)
        base = rss_kb(t.proc.pid)
        for i in range(40):
            threads.append(threading.Thread(target=slowloris, args=(
                port, "127.0.0.2", started, stop, slow, sent)))
        for i in range(100):
            src = "127.0.%d.%d" % (1 + i // 200, 3 + i % 200)
            stream = i % 5 == 0
            threads.append(threading.Thread(target=client, args=(
                port, src, "/api/events" if stream else "/api/metrics", answers,
                hold if stream else None)))
        for th in threads:
            th.start()
        for _ in range(40):  # every slowloris connected (accepted or not)
            started.acquire()
        at = t.iter
        # The crowd is answered (streams held open) while training goes on.
        while len(answers) < 80:
            t.iterations(1, "iterations during the crowd")
        # Every slowloris has tried a few bytes since the server decided
        # (a closed one stops counting): ordered by their sends.
        while sent[0] < 40 * 4 and len(slow) < 24:
            t.iterations(1, "iterations during the slowloris")
        while sent[0] < 16 * 4 + 40 * 4:
            t.iterations(1, "iterations during the slowloris")
        during = t.iter - at
        mine = []
        client(port, "127.0.0.1", "/api/metrics", mine)
        peak = rss_kb(t.proc.pid)
        hold.set()
        stop.set()
        for th in threads:
            th.join(timeout=120)
        log = t.finish()
    finally:
        stop.set()
        hold.set()
        if t.proc.poll() is None:
            t.proc.kill()
    broken = [a for a in answers if isinstance(a, str) and a.startswith("broken")]
    ok = answers.count(200)
    streams_refused = answers.count(503)
    if broken or len(answers) != 100 or ok < 60 or mine != [200] or \
            set(answers) - {200, 503, "refused"}:
        fail("crowd: %d answers, %d OK, %d 503, broken %r; a client of 127.0.0.1 got %r"
             % (len(answers), ok, streams_refused, broken[:3], mine))
    if during < 2 or SANITIZER.search(log):
        fail("training during the crowd: %d iterations" % during)
    # One address holds at most 16 connections (hud_http.c's PER_ADDRESS).
    if not 1 <= slow.count("held") <= 16 or len(slow) != 40:
        fail("slowloris: %d held, %d closed" % (slow.count("held"), slow.count("closed")))
    # 64 connections at once at most, each with its ring copy for
    # /api/metrics (~0.2 MB for this run): far below 64 MB.
    if peak - base > 64 * 1024:
        fail("RSS grew from %d kB to %d kB with the crowd" % (base, peak))
    print("crowd: %d of 100 clients answered 200, %d event streams refused (503) past the "
          "limit, none broken; slowloris from one address: %d held, %d closed; 127.0.0.1 "
          "served meanwhile; %d iterations during it; RSS %d -> %d kB"
          % (ok, streams_refused, slow.count("held"), slow.count("closed"), during, base,
             peak))


# Ready when the page follows the run: the event stream is open, the frame
# of env 0 has loaded and the header's iteration is a number.
PAGE_LIVE = ("(() => { const $ = (id) => document.getElementById(id); "
             "const it = parseInt($('iter').textContent); "
             "return $('status').className === 'live' && $('frameinfo').className === '' && "
             "it > 0 ? it : 0; })()")
# Two animation frames: whatever the last event scheduled has been drawn.
PAGE_DRAWN = "new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(1))))"


def page_on_run(gnarl, config, work, name, chromium, ready, extra=()):
    """Open the page of a run that trains in headless Chromium (tests/
    integration/browser.py), wait until it follows the run (PAGE_LIVE, then
    two more iterations delivered by the event stream) and `ready` (a
    JavaScript expression) holds, then return its DOM and a screenshot
    (WORKDIR/<name>.png)."""
    port = free_port()
    t = Train(train_args(gnarl, config, work, name, port, extra))
    shot = os.path.join(work, name + ".png")
    try:
        # Curves need finished episodes (ep_return_mean and the reward
        # terms are null before) and two points: then open the page.
        t.wait_for("a finished episode", lambda l: l.startswith("iter ") and " | return " in l)
        t.iterations(2, "two iterations with episodes")
        with Browser(chromium, os.path.join(work, "chromium-" + name)) as b:
            b.open("http://127.0.0.1:%d/" % port)
            first = b.wait_for(PAGE_LIVE, DEADLINE_S, "the run live with a frame")
            b.wait_for("(%s) >= %d" % (PAGE_LIVE, first + 2), DEADLINE_S,
                       "two iterations after iteration %d" % first)
            b.wait_for(ready, DEADLINE_S, "what the test needs (%s)" % ready)
            b.call("Runtime.evaluate", {"expression": PAGE_DRAWN, "awaitPromise": True})
            dom = b.dom()
            b.screenshot(shot)
    finally:
        t.finish()
    return dom, shot


# The page tests' runs iterate at the pace of a real run (a few iterations a
# second, not hundreds): the page keeps up with the stream, as a user's does.
PAGE_PACE = ["--set", "ppo.rollout_steps=256", "--set", "ppo.epochs=4",
             "--set", "policy.hidden=[256, 256]"]


def page(gnarl, config, work, chromium):
    dom, shot = page_on_run(gnarl, config, work, "hud_page", chromium,
                            "document.querySelectorAll('.chart canvas').length >= %d"
                            % (3 + len(TERMS)), PAGE_PACE)
    for name in ["ep_return_mean", "policy_loss", "sps"] + ["reward/" + x for x in TERMS]:
        if "<span>%s</span>" % name not in dom:
            fail("the page has no chart titled %s:\n%s" % (name, dom[:2000]))
    it = re.search(r'<b id="iter">(\d+)', dom)
    if not it or int(it.group(1)) < 3:
        fail("the page's iteration: %s" % (it.group(0) if it else "none"))
    if not re.search(r'<img id="frame" alt="frame of env 0" src="[^"]*/frame\.png\?n=\d+"', dom):
        fail("the page did not load a frame")
    print("page: the DOM has every chart, iteration %s and the frame" % it.group(1))
    with open(shot, "rb") as f:
        w, h, bpp, px = png_decode(f.read())
    # the first curve colour (#5aa9e6), drawn in every chart
    blue = sum(1 for row in px for x in range(0, w * bpp, bpp)
               if abs(row[x] - 0x5a) < 24 and abs(row[x + 1] - 0xa9) < 24 and
               abs(row[x + 2] - 0xe6) < 24)
    if blue < 1000:
        fail("the screenshot has %d pixels of curve colour" % blue)
    print("page: screenshot %dx%d with %d pixels of curves (%s)" % (w, h, blue, shot))


def archive(gnarl, config, work, chromium):
    """The archive of start states on the HUD: /api/archive lists rooms whose
    cells add up to the archive/cells gauge of the same iteration (in
    /api/metrics and progress.csv), with a frontier; a run without an archive
    answers 404; with Chromium, the page draws the map and says how many cells
    and rooms it holds."""
    port = free_port()
    t = Train(train_args(gnarl, config, work, "archive", port,
                         ["--set", "archive.enabled=true"]))
    try:
        t.until_iteration(4)
        status, ctype, body = http(port, "/api/archive")
        if status != 200 or ctype != "application/json":
            fail("/api/archive: %d %s" % (status, ctype))
        a = json.loads(body)
        cells = sum(r[2] for r in a["rooms"])
        if cells != a["cells"] or not a["rooms"] or not any(r[4] for r in a["rooms"]):
            fail("/api/archive: %d cells in its rooms, %d in all, frontier %s"
                 % (cells, a["cells"], [r for r in a["rooms"] if r[4]]))
        if any(r[3] < r[2] for r in a["rooms"]):
            fail("/api/archive: a room with fewer visits than cells: %r" % a["rooms"])
        # the same iteration's gauges, as the metrics carry them
        t.until_iteration(a["iteration"] + 1)
        _, _, body = http(port, "/api/metrics")
        m = json.loads(body)
        k = m["iteration"].index(a["iteration"])
        if m["series"]["archive/cells"][k] != a["cells"] or \
                m["series"]["archive/rooms"][k] != len(a["rooms"]):
            fail("iteration %d: archive/cells %r, archive/rooms %r in the metrics; the map "
                 "has %d cells in %d rooms" % (a["iteration"], m["series"]["archive/cells"][k],
                                                m["series"]["archive/rooms"][k], a["cells"],
                                                len(a["rooms"])))
        print("archive: iteration %d, %d cells in %d rooms, %d on the frontier"
              % (a["iteration"], a["cells"], len(a["rooms"]), sum(r[4] for r in a["rooms"])))
    finally:
        t.finish()
    port = free_port()  # the first run's may linger in TIME_WAIT
    t = Train(train_args(gnarl, config, work, "no_archive", port))
    try:
        t.until_iteration(1)
        status, _, body = http(port, "/api/archive")
        if status != 404 or b"archive.enabled is false" not in body:
            fail("/api/archive without an archive: %d %r" % (status, body))
    finally:
        t.finish()
    if not chromium:
        return
    args = ["--set", "archive.enabled=true"] + PAGE_PACE
    dom, shot = page_on_run(gnarl, config, work, "hud_archive", chromium,
                            "document.getElementById('archiveinfo').className === ''", args)
    info = re.search(r'<div id="archiveinfo" class="">(\d+) cells in (\d+) rooms', dom)
    if not info or int(info.group(1)) < 1:
        fail("the page does not describe the archive:\n%s" % dom[:3000])
    with open(shot, "rb") as f:
        w, h, bpp, px = png_decode(f.read())
    # the frontier's outline colour (#f2d95c)
    yellow = sum(1 for row in px for x in range(0, w * bpp, bpp)
                 if abs(row[x] - 0xf2) < 16 and abs(row[x + 1] - 0xd9) < 16 and
                 abs(row[x + 2] - 0x5c) < 16)
    if yellow < 20:
        fail("the screenshot has %d pixels of the frontier's colour" % yellow)
    print("archive: the page says %s cells in %s rooms; %d frontier pixels (%s)"
          % (info.group(1), info.group(2), yellow, shot))


def main():
    mode, gnarl, config, work = sys.argv[1:5]
    shutil.rmtree(work, ignore_errors=True)  # a run directory of an earlier run
    os.makedirs(work)
    if mode == "live":
        live(gnarl, config, work)
    elif mode == "errors":
        errors(gnarl, config, work)
    elif mode == "crowd":
        crowd(gnarl, config, work)
    elif mode == "page":
        page(gnarl, config, work, sys.argv[5])
    elif mode == "archive":
        archive(gnarl, config, work, sys.argv[5] if len(sys.argv) > 5 else "")
    else:
        fail("unknown mode " + mode)


if __name__ == "__main__":
    main()
