#!/usr/bin/python3
"""Integration tests of `gnarl train` with LLM guidance on the overworld,
the real llm_text and llm_vision plugins and the test server
(tests/llm/server.py) as a separate process on 127.0.0.1.

Usage: llm_train.py MODE GNARL CONFIG WORKDIR
  outage   training runs with both plugins; the server is stopped (by PID)
           mid-run and started again on the same port.  Checks, from
           events in the log and counters in progress.csv (never from
           time): both circuit breakers open while it is down, each logged
           once; training goes on meanwhile (iterations with the breakers
           open); both close when it is back, each logged once; a SIGINT
           ends the run cleanly; the telemetry columns are in progress.csv
           and TensorBoard; reward/llm_* and the episode summaries' terms,
           llm_calls and llm_hits are filled.
  broken   the server's first 60 replies are broken (cut short, invalid
           UTF-8, 16 MiB, not JSON, garbage): all 40 iterations run, each
           kind is counted, good answers follow, memory stays flat.
  restore  a checkpoint of a run without LLM resumes with llm_text on, and
           one of a run with llm_text on resumes without it: no complaint,
           the iteration continues, the new run's LLM columns are as the
           new config says.
"""
import csv
import glob
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import formats_tfevents  # noqa: E402  (the independent event-file reader)

SERVER = os.path.join(HERE, "..", "llm", "server.py")
PLUGINS = ("llm_text", "llm_vision")
# A safety net against a hung run, not a measure: every wait is for an event.
DEADLINE_S = 240


def fail(msg):
    raise SystemExit("FAIL: " + msg)


class Server:
    """tests/llm/server.py, restartable on the same port."""

    def __init__(self, work):
        self.work = work
        self.port = 0
        self.proc = None

    def start(self):
        port_file = os.path.join(self.work, "port")
        if os.path.exists(port_file):
            os.unlink(port_file)
        self.proc = subprocess.Popen(
            [sys.executable, SERVER, "--log", os.path.join(self.work, "requests.jsonl"),
             "--port", str(self.port), "--port-file", port_file, "--no-bodies", "--default",
             '{"kind": "action", "action": "RIGHT"}'],
            stdout=subprocess.DEVNULL)
        end = time.time() + 30
        while not os.path.exists(port_file):
            if time.time() > end or self.proc.poll() is not None:
                fail("the test server did not start")
            time.sleep(0.01)
        with open(port_file) as f:
            self.port = int(f.read())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait()
        self.proc = None

    def info(self):
        """The server's counters: requests, script_left, answered, held."""
        with urllib.request.urlopen("http://127.0.0.1:%d/control" % self.port) as r:
            return json.loads(r.read())

    def requests(self):
        return self.info()["requests"]

    def control(self, body):
        urllib.request.urlopen(urllib.request.Request(
            "http://127.0.0.1:%d/control" % self.port, json.dumps(body).encode()),
            timeout=30).read()


class Train:
    """`gnarl train` with its stderr read line by line on a thread."""

    def __init__(self, args):
        self.lines = []
        self.iter = 0          # the last progress line's iteration
        self.rewards = {}      # and its per-term rewards
        self.q = queue.Queue()
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        threading.Thread(target=self._read, daemon=True).start()
        self.deadline = time.time() + DEADLINE_S

    def _read(self):
        for line in self.proc.stderr:
            self.q.put(line.rstrip("\n"))
        self.q.put(None)

    def wait_for(self, what, pred):
        """Read lines until pred(line) holds; returns the line."""
        while True:
            try:
                line = self.q.get(timeout=max(0.1, self.deadline - time.time()))
                state = "ended"
            except queue.Empty:
                line, state = None, "hung"
            if line is None:
                self.proc.kill()
                fail("waiting for %s: the run %s; last lines:\n%s"
                     % (what, state, "\n".join(self.lines[-40:])))
            self.lines.append(line)
            if line.startswith("iter "):
                self._progress(line)
            if pred(line):
                return line

    def _progress(self, line):
        # "iter 7 | steps ... | reward room_discovery 20 ... llm_text 3.5 llm_vision 0"
        parts = line.split(" | ")
        self.iter = int(parts[0].split()[1])
        for part in parts:
            if part.startswith("reward "):
                w = part.split()[1:]
                self.rewards = {w[i]: float(w[i + 1]) for i in range(0, len(w) - 1, 2)}

    def iterations(self, n, what):
        for _ in range(n):
            self.wait_for(what, lambda l: l.startswith("iter "))

    def until_logged(self, what):
        """Read lines until both plugins have logged `what` (in any order)."""
        left = set(PLUGINS)

        def seen(line):
            for p in list(left):
                if line.startswith("gnarl[%s]" % p) and what in line:
                    left.discard(p)
            return not left
        self.wait_for("both plugins to log '%s'" % what, seen)

    def until_paid(self, what):
        """Iterate until the episode means of both LLM terms are positive."""
        self.wait_for(what, lambda l: l.startswith("iter ") and
                      all(self.rewards.get(p, 0) > 0 for p in PLUGINS))

    def finish(self):
        self.proc.send_signal(signal.SIGINT)
        while True:
            line = self.q.get(timeout=max(0.1, self.deadline - time.time()))
            if line is None:
                break
            self.lines.append(line)
        rc = self.proc.wait()
        if rc != 0:
            fail("gnarl train exited with %d:\n%s" % (rc, "\n".join(self.lines[-20:])))
        return "\n".join(self.lines)


def llm_set(port, plugins, extra=""):
    url = "http://127.0.0.1:%d" % port
    items = ["{plugin: %s, probability: 0.05, cache_ttl_steps: 0, params: {endpoint: \"%s\", "
             "timeout_ms: 3000, max_retries: 0, breaker_failures: 3, "
             "breaker_cooldown_ms: 200%s}}" % (p, url, extra) for p in plugins]
    return "llm=[" + ", ".join(items) + "]"


def base_args(gnarl, config, work, name):
    return [gnarl, "train", "-c", config, "--set", "run.storage=" + work,
            "--set", "run.name=" + name, "--set", "env.num_envs=8",
            "--set", "env.params.max_steps=1024", "--set", "ppo.rollout_steps=64",
            "--set", "ppo.minibatch_size=256", "--set", "ppo.epochs=1",
            "--set", "policy.hidden=[32]", "--set", "log.every_seconds=0",
            # the policy stays the random initial one, which follows a
            # suggestion 1 time in 7: hits do not depend on what it learns
            "--set", "ppo.learning_rate=0"]


def rows(work, name):
    with open(os.path.join(work, name, "progress.csv")) as f:
        return list(csv.DictReader(f))


def num(row, key):
    text = row.get(key)
    if text is None:
        fail("progress.csv has no column %s" % key)
    return float(text) if text != "" else float("nan")


def check_events(work, name, tags):
    files = glob.glob(os.path.join(work, name, "events.out.tfevents.*"))
    seen = set()
    Event = formats_tfevents.event_class()
    for path in files:
        with open(path, "rb") as f:
            for data in formats_tfevents.records(f.read()):
                ev = Event()
                ev.ParseFromString(data)
                seen.update(v.tag for v in ev.summary.value)
    missing = [t for t in tags if t not in seen]
    if missing:
        fail("TensorBoard events lack %s" % missing)


def check_summaries(work, name):
    recs = []
    for path in glob.glob(os.path.join(work, name, "workers", "worker_0", "*.jsonl")):
        with open(path) as f:
            recs += [json.loads(l) for l in f if l.strip()]
    if not recs:
        fail("no episode summaries")
    for r in recs:
        for p in PLUGINS:
            if p not in r["terms"]:
                fail("episode summary without the %s term: %r" % (p, r))
    calls = sum(r["llm_calls"] for r in recs)
    hits = sum(r["llm_hits"] for r in recs)
    paid = sum(r["terms"]["llm_text"] + r["terms"]["llm_vision"] for r in recs)
    if calls <= 0 or hits <= 0 or paid <= 0:
        fail("episode summaries: llm_calls %d, llm_hits %d, bonus %g" % (calls, hits, paid))
    return len(recs), calls, hits


def outage(gnarl, config, work):
    server = Server(work)
    server.start()
    args = base_args(gnarl, config, work, "outage") + [
        "--set", "ppo.total_steps=1000000000", "--set", llm_set(server.port, PLUGINS)]
    train = Train(args)
    try:
        train.until_paid("episodes paid by both plugins")
        at_stop = train.iter
        server.stop()
        train.until_logged("circuit breaker open")
        opened = train.iter
        train.iterations(5, "iterations while the server is down")
        server.start()
        train.until_logged("circuit breaker closed")
        closed = train.iter
        while server.requests() < 10:
            train.iterations(1, "requests to the server after it came back")
        train.iterations(3, "iterations after the server came back")
        log = train.finish()
    finally:
        if train.proc.poll() is None:
            train.proc.kill()
        server.stop()

    for p in PLUGINS:
        for what in ("circuit breaker open", "circuit breaker closed"):
            n = sum(1 for l in log.splitlines() if l.startswith("gnarl[%s]" % p) and what in l)
            if n != 1:
                fail("%s logged '%s' %d times, want once" % (p, what, n))
    table = rows(work, "outage")
    last = table[-1]
    down = [r for r in table if opened < int(r["iteration"]) <= closed]
    after = [r for r in table if int(r["iteration"]) > closed]
    for p in PLUGINS:
        if num(last, p + "/breaker_opens") != 1 or num(last, p + "/breaker_open") != 0:
            fail("%s: breaker_opens %g, breaker_open %g at the end" % (
                p, num(last, p + "/breaker_opens"), num(last, p + "/breaker_open")))
        if not num(last, p + "/breaker_open_ms") > 0:
            fail(p + ": breaker_open_ms is not positive")
        if num(last, p + "/transport_errors") < 3 or num(last, p + "/failures") < 3:
            fail(p + ": fewer than 3 failures counted")
        # every failure came out of poll: guidance counted it
        if num(last, p + "/failed") < 3:
            fail(p + ": guidance saw %g failed requests" % num(last, p + "/failed"))
        if num(last, p + "/refused") <= 0:
            fail(p + ": the open breaker refused nothing")
        # answers again after the outage (none can come while it is down)
        if not num(last, p + "/successes") > num(table[at_stop - 1], p + "/successes"):
            fail(p + ": no successes after the server came back")
        if num(last, p + "/suggestions") <= 0 or num(last, p + "/alignment_hits") <= 0:
            fail(p + ": no suggestion shown or followed")
        if not any(num(r, p + "/breaker_open") == 1 for r in down):
            fail(p + ": no iteration ran with the breaker open")
        if not any(num(r, "reward/" + p) > 0 for r in table):
            fail("reward/%s never positive" % p)
        if not any(num(r, p + "/breaker_open") == 0 for r in after):
            fail(p + ": the breaker did not close")
    if len(down) < 5:
        fail("only %d iterations while the server was down" % len(down))
    cols = ["%s/%s" % (p, s) for p in PLUGINS for s in (
        "calls", "successes", "parse_failures", "timeouts", "http_errors", "cache_hits",
        "alignment_hits", "latency_p50_ms", "latency_p95_ms", "in_flight", "breaker_open_ms")]
    check_events(work, "outage", cols + ["reward/llm_text", "reward/llm_vision"])
    n, calls, hits = check_summaries(work, "outage")

    print("outage: %d iterations before the stop, %d while down, %d after; the run's sps "
          "at the stop %.0f, when it came back %.0f, at the end %.0f; %d episodes summarised "
          "with %d LLM calls and %d hits" % (
              at_stop, len(down), len(after), num(table[at_stop - 1], "sps"),
              num(down[-1], "sps"), num(last, "sps"), n, calls, hits))


def broken(gnarl, config, work):
    """Both plugins against a server whose first 60 replies are broken in turn
    (cut short, invalid UTF-8, 16 MiB long, not JSON, garbage), then good:
    every iteration runs, each kind costs its counter, answers resume, and
    the process's memory stays flat."""
    kinds = [{"kind": "cut"}, {"kind": "bad_utf8"}, {"kind": "huge", "mb": 16},
             {"kind": "not_json"}, {"kind": "garbage"}]
    server = Server(work)
    server.start()
    server.control({"script": kinds * 12, "default": {"kind": "action", "action": "RIGHT"}})
    # The run goes on (ordered by the server's counters, not by a clock)
    # until every broken reply and 16 good ones have been sent (each plugin
    # asks again only once its last reply is in, so the first good ones
    # have been taken by then), then two more iterations; at least 40.  A
    # fast machine trains 40 iterations in 0.1 s, before a single reply.
    # Memory is sampled while the broken replies are being sent.
    args = base_args(gnarl, config, work, "broken") + [
        "--set", "ppo.total_steps=%d" % (8 * 64 * 1000000), "--set",
        llm_set(server.port, PLUGINS)]
    train = Train(args)
    peak = []
    try:
        after = None
        while train.proc.poll() is None:
            train.iterations(1, "iterations with broken replies")
            if after is None:
                info = server.info()
                # Sampled once each plugin has had every kind of broken
                # reply (its buffers at their largest, the run past its
                # first allocations): a reply that leaks shows after that.
                if info["answered"] >= len(kinds) * 3:
                    with open("/proc/%d/status" % train.proc.pid) as f:
                        peak += [int(l.split()[1]) for l in f if l.startswith("VmRSS:")]
                if info["script_left"] == 0 and info["answered"] >= len(kinds) * 12 + 16:
                    after = train.iter + 2
            elif train.iter >= max(after, 40):
                break
        log = train.finish()
    finally:
        if train.proc.poll() is None:
            train.proc.kill()
        server.stop()
    table = rows(work, "broken")
    last = table[-1]
    if len(table) < 40 or [int(r["iteration"]) for r in table] != list(range(1, len(table) + 1)):
        fail("iterations %r" % [r["iteration"] for r in table])
    got = {k: sum(num(last, p + "/" + k) for p in PLUGINS)
           for k in ("transport_errors", "parse_failures", "successes", "failures")}
    if got["transport_errors"] < 2 or got["parse_failures"] < 2 or got["successes"] < 1:
        fail("counters after broken replies: %r\n%s" % (got, log[-3000:]))
    # The 16 MiB replies are cut at the plugins' 1 MiB cap: resident memory
    # in the second half of the broken replies is what it was in the first
    # (8 MB of slack).
    half = len(peak) // 2
    if len(peak) < 2:
        fail("RSS sampled %d times while the broken replies were sent" % len(peak))
    if max(peak[half:]) > max(peak[:half]) + 8 * 1024:
        fail("RSS grew from %d kB to %d kB" % (max(peak[:half]), max(peak[half:])))
    print("broken: %d iterations through %d broken replies (%r); RSS %d -> %d kB"
          % (len(table), 60, got, max(peak[:half]), max(peak[half:])))


def restore(gnarl, config, work):
    server = Server(work)
    server.start()
    try:
        cases = (("off_on", [], ["llm_text"]), ("on_off", ["llm_text"], []))
        for name, before, after in cases:
            first = base_args(gnarl, config, work, name + "_a") + [
                "--set", "ppo.total_steps=%d" % (8 * 64 * 4), "--set", "checkpoint.every=2"]
            if before:
                first += ["--set", llm_set(server.port, before)]
            p = subprocess.run(first, capture_output=True, text=True)
            if p.returncode != 0:
                fail("%s: first run failed:\n%s" % (name, p.stderr[-3000:]))
            ckpt = os.path.join(work, name + "_a")  # a run directory: its latest
            second = base_args(gnarl, config, work, name + "_b") + [
                "--set", "ppo.total_steps=%d" % (8 * 64 * 8), "--restore", ckpt]
            if after:
                second += ["--set", llm_set(server.port, after)]
            p = subprocess.run(second, capture_output=True, text=True)
            if p.returncode != 0:
                fail("%s: the restore failed:\n%s" % (name, p.stderr[-3000:]))
            if "RESTORING from checkpoint" not in p.stderr:
                fail("%s: no RESTORING line:\n%s" % (name, p.stderr[-3000:]))
            table = rows(work, name + "_b")
            if int(table[0]["iteration"]) != 5:
                fail("%s: the restored run starts at iteration %s, want 5" % (
                    name, table[0]["iteration"]))
            has = "llm_text/calls" in table[0]
            if has != bool(after):
                fail("%s: LLM columns %s, want %s" % (name, has, bool(after)))
            if after and not any(num(r, "llm_text/requests") > 0 for r in table):
                fail("%s: llm_text asked nothing after the restore" % name)
            print("%s: restored at iteration 5, ran to %s; LLM columns: %s" % (
                name, table[-1]["iteration"], has))
    finally:
        server.stop()


def main():
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    mode, gnarl, config, work = sys.argv[1:]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    {"outage": outage, "restore": restore, "broken": broken}[mode](gnarl, config, work)
    print("PASS " + mode)


if __name__ == "__main__":
    main()
