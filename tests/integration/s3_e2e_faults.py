#!/usr/bin/python3
"""gnarl train against the `s3` fixture through tests/s3/fault_proxy.py,
which injects failures into chosen requests: what a run does when the
store misbehaves, checked in the bucket with the independent SigV4 client.

Usage: s3_e2e_faults.py MODE GNARL SOURCE_DIR WORKDIR   (GNARL_S3_ENV names
the fixture's env file, as for s3_e2e_test.py)

Modes (CartPole, checkpoints every 2 iterations):
  ambiguous  writes whose reply is lost although they landed (the proxy
             forwards the PUT, then closes without answering; curl's own
             reconnect hits the same rule, so the loss is definite):
             - checkpoint 4's manifest: read back, found whole, logged as
               saved; `latest` and retention go on from it;
             - the same, but every request for that manifest then fails
               (503) until the test lifts the rule: "perhaps NOT saved",
               then, once the store answers, "is in the store whole";
             - a manifest PUT refused without reaching the store: read back,
               absent, "NOT saved", and indeed no manifest;
             - an episode-summary batch whose every attempt fails after the
               first one landed: counted as written, not dropped; every
               episode is in the bucket exactly once.
  faults     the store answering 500 and 503 (retried: every checkpoint
             saved), slowly (a reply later than storage.s3.timeout_ms: the
             retry finds the object there), truncated GET bodies during a
             restore (resumed with Range), a corrupted PUT body (the gateway
             refuses its checksum: retried), a corrupted GET body of the model
             (gnarl reads it again, the manifest's SHA-256 tells), and a
             model whose bytes in the bucket are damaged (exit 3, nothing
             loaded); the trainer's memory stays bounded throughout.
"""
import io
import json
import os
import re
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import s3_e2e_test as e2e  # noqa: E402
from s3_e2e_test import Background, Ctx, checkpoint_ok, fail, get, iterations, keys  # noqa: E402


class Proxy:
    """tests/s3/fault_proxy.py in front of the fixture's gateway."""

    def __init__(self, ctx):
        port_file = os.path.join(ctx.work, "proxy.port")
        self.p = subprocess.Popen([sys.executable,
                                   os.path.join(ctx.src, "tests", "s3", "fault_proxy.py"),
                                   "--upstream", ctx.fixture["S3_ENDPOINT_URL"],
                                   "--port-file", port_file])
        for _ in range(600):
            if os.path.exists(port_file):
                break
            time.sleep(0.05)
        else:
            fail("fault_proxy.py did not start")
        self.url = "http://127.0.0.1:%d" % int(open(port_file).read())

    def post(self, what, body=b""):
        urllib.request.urlopen(urllib.request.Request(self.url + "/__fault__/" + what, body),
                               timeout=30).read()

    def plan(self, rules):
        self.post("reset")
        self.post("plan", json.dumps(rules).encode())

    def log(self):
        return json.loads(urllib.request.urlopen(self.url + "/__fault__/log", timeout=30).read())

    def stop(self):
        self.p.terminate()
        self.p.wait(timeout=30)


def through(ctx, proxy):
    """gnarl talks to the proxy from now on; the test's client still talks to
    the gateway itself."""
    ctx.fixture = dict(ctx.fixture, S3_ENDPOINT_URL=proxy.url)


SETS = ["checkpoint.every=2", "checkpoint.keep_last=1000", "checkpoint.keep_best=false",
        "storage.s3.max_retries=0"]


def manifest_key(run, it):
    return "runs/%s/checkpoints/checkpoint_%06d/manifest.json" % (run, it)


def with_proxy(ctx, *steps):
    """Run each step(ctx, proxy) with gnarl talking through a new proxy."""
    proxy = Proxy(ctx)
    through(ctx, proxy)
    try:
        for step in steps:
            step(ctx, proxy)
    finally:
        proxy.stop()


def ambiguous(ctx):
    with_proxy(ctx, landed_at_once, landed_later, really_lost, summary_landed)
    print("ambiguous: a manifest whose reply was lost is saved (read back at once, or once "
          "the store answers again); one refused before the store is NOT saved and absent; "
          "a summary batch that landed despite its failures counts once, as written")


def landed_at_once(ctx, proxy):
    put = "PUT /%s/%s" % (ctx.bucket, manifest_key("a", 4))
    proxy.plan([{"match": put, "action": "lose_reply", "times": 2}])
    log = e2e.train(ctx, "a", ["ppo.total_steps=4096"] + SETS, cwd=ctx.fresh_dir())
    if "%s -> 200 lost" % put not in proxy.log():
        fail("the proxy did not lose the reply: %r" % proxy.log())
    if "NOT saved" in log or not re.search(
            r"checkpoint_000004: the store failed the manifest's write .*but reading it back "
            r"shows it landed whole: the checkpoint is saved", log) or \
            "saved %s/a/checkpoints/checkpoint_000004 (" % ctx.root() not in log:
        fail("a manifest whose reply was lost is not reported saved", log)
    for it in (2, 4, 6, 8):
        checkpoint_ok(ctx, "runs/a/checkpoints/checkpoint_%06d" % it)
    if get(ctx, "runs/a/checkpoints/latest") != b"checkpoint_000008\n":
        fail("latest after the run: %r" % get(ctx, "runs/a/checkpoints/latest"))


def landed_later(ctx, proxy):
    """Lost reply, then the store cannot be asked (the read-back GET fails):
    in doubt until it can."""
    key = manifest_key("b", 4)
    proxy.plan([{"match": "PUT /%s/%s" % (ctx.bucket, key), "action": "lose_reply",
                 "times": 2},
                {"match": "GET /%s/%s" % (ctx.bucket, key), "action": "status", "status": 503,
                 "code": "SlowDown", "times": 1000000}])
    b = Background(ctx, ["run.storage=" + ctx.root(), "run.name=b",
                         "ppo.total_steps=100000000"] + e2e.CP_SETS + SETS, ctx.fresh_dir())
    try:
        doubt = b.wait_for("checkpoint of iteration 4 perhaps NOT saved (1 in a row)")
        proxy.plan([])
        found = b.wait_for("checkpoint of iteration 4, perhaps NOT saved earlier, is in the "
                           "store whole", doubt)
        b.wait_for("saved %s/b/checkpoints/checkpoint_" % ctx.root(), found)
        code = b.kill(e2e.signal.SIGTERM)
    finally:
        if b.p.poll() is None:
            b.kill()
    log = b.text()
    if code != 0 or "is lost" in log or e2e.SANITIZER.search(log):
        fail("checkpoint 4 in doubt (exit %d)" % code, log)
    checkpoint_ok(ctx, "runs/b/checkpoints/checkpoint_000004")
    last = iterations(log)[-1]
    if get(ctx, "runs/b/checkpoints/latest") != b"checkpoint_%06d\n" % last:
        fail("latest after the run: %r (last iteration %d)"
             % (get(ctx, "runs/b/checkpoints/latest"), last), log)


def really_lost(ctx, proxy):
    put = "PUT /%s/%s" % (ctx.bucket, manifest_key("c", 4))
    proxy.plan([{"match": put, "action": "status", "status": 503, "code": "SlowDown",
                 "times": 2}])
    log = e2e.train(ctx, "c", ["ppo.total_steps=4096"] + SETS, cwd=ctx.fresh_dir())
    if not re.search(r"read back: its manifest is not in the store, so the checkpoint does not "
                     r"exist", log) or "checkpoint of iteration 4 NOT saved (1 in a row)" \
            not in log or "perhaps" in log:
        fail("a manifest PUT that never reached the store", log)
    have = keys(ctx, "runs/c/checkpoints/")
    if manifest_key("c", 4) in have or manifest_key("c", 6) not in have:
        fail("checkpoints of run c: %r" % sorted(have))


def summary_landed(ctx, proxy):
    """The first batch lands but its reply is lost, and its retries fail:
    the writer asks the store (HEAD) and counts it as written."""
    put = "PUT /%s/runs/d/workers/worker_0/episodes_000000000000-" % ctx.bucket
    proxy.plan([{"match": put, "action": "lose_reply", "times": 2},
                {"match": put, "action": "status", "status": 503, "times": 3}])
    log = e2e.train(ctx, "d", ["ppo.total_steps=4096", "metrics.episodes=true",
                               "checkpoint.every=0", "storage.s3.max_retries=0"],
                    cwd=ctx.fresh_dir())
    if not re.search(r"episodes_000000000000-\d+\.jsonl: its writes failed, but the batch is "
                     r"in the store: its \d+ summaries count as written", log):
        fail("a summary batch that landed is not counted as written", log)
    total = checkpoint_ok(ctx, "runs/d/checkpoints/checkpoint_000008")["episodes"]
    recs = e2e.summaries(ctx, "runs/d")  # fails on a seq written twice
    if sorted(recs) != list(range(total)) or re.search(r"[1-9]\d* summaries dropped", log):
        fail("summaries: %d in the bucket for %d episodes" % (len(recs), total), log)
    rows = list(e2e.csvmod.DictReader(io.StringIO(get(ctx, "runs/d/progress.csv").decode())))
    gauges = {k: rows[-1].get(k) for k in ("summaries/dropped", "summaries/unconfirmed",
                                           "summaries/written")}
    if gauges["summaries/dropped"] not in ("0", "0.0") or \
            gauges["summaries/unconfirmed"] not in ("0", "0.0"):
        fail("progress.csv's last summaries gauges: %r" % gauges)


def faults(ctx):
    with_proxy(ctx, errors_retried, slow_replies, damaged_bodies)


def peak_rss_mb(pid):
    try:
        for line in open("/proc/%d/status" % pid):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0


def measured(ctx, name, sets):
    """A run to its end: exit code, log, peak resident memory (MB)."""
    bg = Background(ctx, ["run.storage=" + ctx.root(), "run.name=" + name,
                          "ppo.blas_threads=1"] + sets, ctx.fresh_dir())
    peak = 0
    while bg.p.poll() is None:
        peak = max(peak, peak_rss_mb(bg.p.pid))
        time.sleep(0.05)
    code = bg.kill()
    return code, bg.text(), peak


def errors_retried(ctx, proxy):
    """500s and 503s on every kind of request, fewer than the retries: the run
    sees none of them; its peak memory stays that of a run without faults."""
    b = "/%s/runs/" % ctx.bucket
    proxy.plan([{"match": "PUT " + b, "action": "status", "status": 503, "code": "SlowDown",
                 "times": 40, "every": 2},
                {"match": "GET " + b, "action": "status", "status": 500,
                 "code": "InternalError", "times": 20, "every": 2},
                {"match": "HEAD " + b, "action": "status", "status": 503, "times": 20,
                 "every": 2}])
    sets = ["ppo.total_steps=20480", "checkpoint.every=2", "metrics.upload_every=2",
            "checkpoint.keep_last=1000", "checkpoint.keep_best=false",
            "storage.s3.retry_base_ms=5", "metrics.episodes=true"]
    code, log, peak = measured(ctx, "e", sets)
    hits = [l for l in proxy.log() if re.search(r"-> 50[03]$", l)]
    if code != 0 or len(hits) < 40 or "NOT saved" in log or re.search(r"\berror:", log):
        fail("a store answering 500/503 (%d injected, exit %d)" % (len(hits), code), log)
    for it in range(2, 41, 2):
        checkpoint_ok(ctx, "runs/e/checkpoints/checkpoint_%06d" % it)
    # A clean run of the same length, for the memory it needs.
    proxy.plan([])
    clean = measured(ctx, "e2", sets)[2]
    if peak > 1.5 * clean + 20:
        fail("peak memory %.0f MB under 500/503s, %.0f MB without" % (peak, clean))
    print("faults: %d injected 500/503 replies retried; 20 checkpoints whole; peak RSS %.0f MB "
          "(%.0f MB without faults)" % (len(hits), peak, clean))


def slow_replies(ctx, proxy):
    """A PUT whose reply comes after the client gave up (timeout_ms): it
    landed; the retry writes the same bytes again and the run goes on."""
    put = "PUT /%s/%s" % (ctx.bucket, manifest_key("s", 2))
    proxy.plan([{"match": put, "action": "slow", "seconds": 3, "times": 1}])
    log = e2e.train(ctx, "s", ["ppo.total_steps=2048", "checkpoint.every=2",
                               "storage.s3.timeout_ms=1000", "storage.s3.retry_base_ms=10"],
                    cwd=ctx.fresh_dir())
    if "NOT saved" in log or "%s -> 200" % put not in proxy.log():
        fail("a reply slower than timeout_ms", log)
    checkpoint_ok(ctx, "runs/s/checkpoints/checkpoint_000002")
    checkpoint_ok(ctx, "runs/s/checkpoints/checkpoint_000004")


def damaged_bodies(ctx, proxy):
    run = "runs/m/checkpoints/checkpoint_000002"
    model = "/%s/%s/model.safetensors" % (ctx.bucket, run)
    # A corrupted upload: its payload no longer matches the signed SHA-256.
    proxy.plan([{"match": "PUT " + model, "action": "corrupt", "times": 1}])
    log = e2e.train(ctx, "m", ["ppo.total_steps=1024", "checkpoint.every=2",
                               "storage.s3.retry_base_ms=10"], cwd=ctx.fresh_dir())
    refused = [l for l in proxy.log() if l.startswith("PUT " + model)]
    if "NOT saved" in log or len(refused) != 2 or not refused[0].endswith("-> 400"):
        fail("a corrupted upload (%r)" % refused, log)
    checkpoint_ok(ctx, run)
    # A restore whose download is cut short, then one that arrives damaged.
    uri = ctx.root() + "/m/checkpoints/checkpoint_000002"
    proxy.plan([{"match": "GET " + model, "action": "cut", "after_bytes": 4000, "times": 1}])
    log = e2e.train(ctx, "m2", ["ppo.total_steps=1536"], restore=uri, cwd=ctx.fresh_dir())
    if iterations(log) != [3]:
        fail("a restore whose download was cut", log)
    proxy.plan([{"match": "GET " + model, "action": "corrupt", "where": "reply", "times": 1}])
    log = e2e.train(ctx, "m3", ["ppo.total_steps=1536"], restore=uri, cwd=ctx.fresh_dir())
    if iterations(log) != [3] or "damaged in transit" not in log:
        fail("a restore whose download arrived damaged once", log)
    # Damaged in the bucket itself: every read is wrong.  Exit 3, nothing runs.
    proxy.plan([{"match": "GET " + model, "action": "corrupt", "where": "reply",
                 "times": 10}])
    p = e2e.run(ctx, ["train"], ["run.storage=" + ctx.root(), "run.name=m4"] + e2e.CP_SETS,
                ["--restore", uri], cwd=ctx.fresh_dir(), expect=3)
    if "checksum mismatch" not in p.stderr or iterations(p.stderr):
        fail("a restore of a damaged model", p.stderr)
    print("faults: a reply after timeout_ms (retried, landed once), a corrupted upload "
          "(refused by the gateway, retried), a cut download (resumed), a damaged download "
          "(read again), a damaged object (exit 3)")


def main():
    mode, gnarl, src, work = sys.argv[1:5]
    e2e.shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    ctx = Ctx(mode, os.path.abspath(gnarl), os.path.abspath(src), os.path.abspath(work))
    ctx.s3.create_bucket(ctx.bucket)
    {"ambiguous": ambiguous, "faults": faults}[mode](ctx)
    ctx.s3.delete_bucket(ctx.bucket)
    e2e.shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
