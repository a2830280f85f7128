#!/usr/bin/python3
"""A whole run in S3, end to end, against the `s3` fixture (Ceph's RADOS
gateway on 127.0.0.1, tests/s3/start.sh): real `gnarl` processes write and
read the store, and an independent SigV4 client (s3_e2e_client.py) checks
what landed in the bucket.

Usage: s3_e2e_test.py MODE GNARL SOURCE_DIR WORKDIR   (GNARL_S3_ENV names the
fixture's env file; exit 77 without it or without Ceph)

Modes (CartPole, a few hundred milliseconds of training each):
  lands    run.storage: s3://BUCKET/team/runs from a fresh, empty working
           directory: config.yaml (secrets as ${...}; the secret itself in no
           object), progress.csv, the TensorBoard events, every checkpoint with
           its checksum, checkpoints/latest and the root's latest, a tag, and the
           episode summaries (every episode once, seq 0..n-1) are in the bucket
           and nothing is written locally; metrics of a remote store reach it at
           every saved checkpoint and every metrics.upload_every iterations, and
           (without either) not before exit: checked by killing runs (SIGKILL)
           after known points
  restore  from new empty working directories: --restore by s3:// URI (saved
           again with no step taken, model.safetensors is byte-identical), into a
           local run (its manifest names the s3:// parent), `latest` and
           `tag:NAME` against an s3:// run root; `checkpoints list|show|tag` on
           s3:// URIs
  errors   a wrong secret (the 403 message names the key id and the secret or
           clock, never quotes the secret; exit non-zero before any iteration),
           a missing bucket (named, create_bucket suggested; for train, restore
           and list), an endpoint nobody listens on
  outage   the gateway stopped mid-run (tests/s3/gateway.sh stop) and started
           again: iterations go on, failed saves and metrics uploads (every 5
           iterations) are logged and retried, the
           next checkpoint lands, nothing saved before is lost, `latest` names a
           whole checkpoint, progress.csv has every iteration; episode summaries
           are dropped and counted, then written again, and the bucket's records
           plus the logged drops account for every episode
"""
import csv as csvmod
import hashlib
import io
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import s3_e2e_client  # noqa: E402
from formats_tfevents import event_class, records  # noqa: E402
from resume_test import s3_env  # noqa: E402  (the fixture's env file, or exit 77)

CP_SETS = ["ppo.blas_threads=1", "metrics.upload_every=null"]
# Seconds any awaited log line may take (Sanitize builds are slow); a bound
# on a hang, never an assertion about speed.
WAIT = int(os.environ.get("S3E_WAIT", "600"))


def fail(msg, out=""):
    raise SystemExit("FAIL: " + msg + ("\n--- output ---\n" + out[-6000:] if out else ""))


class Ctx:
    def __init__(self, mode, gnarl, src, work):
        self.mode, self.gnarl, self.src, self.work = mode, gnarl, src, work
        self.fixture = s3_env()
        f = self.fixture
        self.s3 = s3_e2e_client.Client(f["S3_ENDPOINT_URL"], f["S3_ACCESS_KEY_ID"],
                                       f["S3_SECRET_ACCESS_KEY"],
                                       f.get("S3_REGION_NAME", "us-east-1"))
        self.bucket = "gnarl-e2e-%s-%d" % (mode, os.getpid())
        self.config = os.path.join(work, "cartpole-s3.yaml")
        write_config(os.path.join(src, "configs", "cartpole.yaml"), self.config)
        self.dirs = 0

    def env(self, **over):
        """The environment gnarl runs in: the fixture's S3_* variables (the
        config reads them as ${...}), nothing else of the fixture."""
        e = dict(os.environ)
        e.pop("RESTORE_CHECKPOINT", None)
        for k in ("S3_ENDPOINT_URL", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY",
                  "S3_REGION_NAME"):
            if k in self.fixture:
                e[k] = self.fixture[k]
        e.update(over)
        return e

    def fresh_dir(self):
        """A new, empty working directory."""
        self.dirs += 1
        d = os.path.join(self.work, "cwd%d" % self.dirs)
        os.makedirs(d)
        return d

    def root(self, prefix="runs"):
        return "s3://%s/%s" % (self.bucket, prefix)


def write_config(src, dst):
    """configs/cartpole.yaml plus a storage section that names the store only
    through environment variables, as a user would commit it."""
    text = open(src).read()
    if re.search(r"^storage:", text, re.M):
        fail("configs/cartpole.yaml has a storage section: update write_config")
    text += ("\nstorage:\n  s3:\n    endpoint: ${S3_ENDPOINT_URL}\n"
             "    access_key: ${S3_ACCESS_KEY_ID}\n"
             "    secret_key: ${S3_SECRET_ACCESS_KEY}\n"
             "    create_bucket: true\n")
    open(dst, "w").write(text)


def gnarl_args(ctx, verb, sets=(), extra=()):
    args = [ctx.gnarl] + verb + ["-c", ctx.config]
    if verb == ["train"]:  # every iteration's progress line: the tests read them
        args += ["--set", "log.every_seconds=0"]
    for s in list(sets):
        args += ["--set", s]
    return args + list(extra)


SANITIZER = re.compile(r"ERROR: (Address|Leak)Sanitizer|runtime error: ")


def run(ctx, verb, sets=(), extra=(), cwd=None, env=None, expect=0):
    p = subprocess.run(gnarl_args(ctx, verb, sets, extra), capture_output=True, text=True,
                       cwd=cwd or ctx.work, env=env or ctx.env(), timeout=600)
    if SANITIZER.search(p.stderr):
        fail("gnarl %s: a sanitizer report" % " ".join(verb), p.stderr)
    if expect is not None and p.returncode != expect:
        fail("gnarl %s %s: exit %d, expected %d" % (" ".join(verb), " ".join(sets),
                                                    p.returncode, expect),
             p.stdout + p.stderr)
    return p


def train(ctx, name, sets=(), restore=None, cwd=None, storage=None, expect=0, env=None):
    s = ["run.storage=" + (storage or ctx.root()), "run.name=" + name] + CP_SETS + list(sets)
    return run(ctx, ["train"], s, ["--restore", restore] if restore else [], cwd=cwd,
               env=env, expect=expect).stderr


class Background:
    """A `gnarl train` whose stderr is read line by line as it comes."""

    def __init__(self, ctx, sets, cwd):
        self.lines, self.cond = [], threading.Condition()
        self.path = os.path.join(ctx.work, "background-%d.log" % len(os.listdir(ctx.work)))
        self.p = subprocess.Popen(gnarl_args(ctx, ["train"], sets), cwd=cwd, env=ctx.env(),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.p.stderr:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.lines.append(None)  # EOF
            self.cond.notify_all()

    def wait_for(self, needle, start=0):
        """Index of the first line from `start` on that contains needle."""
        deadline = time.monotonic() + WAIT
        i = start
        with self.cond:
            while True:
                while i < len(self.lines):
                    if self.lines[i] is None:
                        fail("gnarl exited before logging %r" % needle, self.text())
                    if needle in self.lines[i]:
                        return i
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0:
                    self.kill()
                    fail("no %r within %d s" % (needle, WAIT), self.text())
                self.cond.wait(left)

    def count(self):
        with self.cond:
            return len(self.lines)

    def text(self):
        """The whole log so far (also written to self.path for a post-mortem:
        the work directory is kept when a test fails)."""
        with self.cond:
            t = "\n".join(x for x in self.lines if x is not None)
        with open(self.path, "w") as f:
            f.write(t + "\n")
        return t

    def kill(self, sig=signal.SIGKILL):
        if self.p.poll() is None:
            self.p.send_signal(sig)
        code = self.p.wait(timeout=600)
        self.reader.join(timeout=60)
        return code


def iterations(log):
    return [int(l.split()[1]) for l in log.splitlines() if l.startswith("iter ")]


# ---- what is in the bucket ------------------------------------------------------


def keys(ctx, prefix):
    return ctx.s3.list(ctx.bucket, prefix)


def get(ctx, key):
    return ctx.s3.get(ctx.bucket, key)


def progress_rows(ctx, run_key):
    """[(iteration, env_steps)] of progress.csv in the bucket ([] if absent)."""
    try:
        text = get(ctx, run_key + "/progress.csv").decode()
    except s3_e2e_client.S3Error as e:
        if e.status == 404:
            return []
        raise
    lines = text.splitlines()
    if not lines[0].startswith("iteration,env_steps,"):
        fail("progress.csv header: " + lines[0])
    return [tuple(int(x) for x in l.split(",")[:2]) for l in lines[1:]]


def events_of(blob):
    """(step, {tag: value}) of every Event after the file_version record,
    decoded by formats_tfevents (its own CRC32C and protobuf schema)."""
    Event = event_class()
    out = []
    for data in records(blob):
        ev = Event()
        ev.ParseFromString(data)
        out.append(ev)
    if not out or out[0].file_version != "brain.Event:2":
        fail("the event file does not start with file_version brain.Event:2")
    return [(ev.step, {v.tag: v.simple_value for v in ev.summary.value}) for ev in out[1:]]


def checkpoint_ok(ctx, ckpt_key):
    """The checkpoint's manifest is there and model.safetensors matches its
    size and SHA-256; the manifest."""
    m = json.loads(get(ctx, ckpt_key + "/manifest.json"))
    model = get(ctx, ckpt_key + "/model.safetensors")
    want = m["files"]["model.safetensors"]
    if len(model) != want["size"] or hashlib.sha256(model).hexdigest() != want["sha256"]:
        fail("%s: model.safetensors does not match its manifest" % ckpt_key)
    return m


def summaries(ctx, run_key):
    """Every episode summary line of worker 0, by seq."""
    out = {}
    prefix = run_key + "/workers/worker_0/"
    for k in sorted(keys(ctx, prefix)):
        m = re.fullmatch(re.escape(prefix) + r"episodes_(\d{12})-(\d{12})\.jsonl", k)
        if not m:
            fail("unexpected summaries object " + k)
        recs = [json.loads(l) for l in get(ctx, k).decode().splitlines()]
        seqs = [r["seq"] for r in recs]
        if seqs[0] != int(m.group(1)) or seqs[-1] != int(m.group(2)) or seqs != sorted(seqs):
            fail("%s holds seq %d..%d" % (k, seqs[0], seqs[-1]))
        for r in recs:
            if r["seq"] in out:
                fail("episode seq %d written twice" % r["seq"])
            out[r["seq"]] = r
    return out


# ---- lands ---------------------------------------------------------------------


def lands(ctx):
    cwd = ctx.fresh_dir()
    root = ctx.root("team/runs")
    log = train(ctx, "a", ["ppo.total_steps=3072", "checkpoint.every=2",
                           "checkpoint.keep_last=1000"], cwd=cwd, storage=root)
    if os.listdir(cwd):
        fail("a run in S3 wrote to the working directory: %r" % os.listdir(cwd))
    run_key = "team/runs/a"
    got = keys(ctx, run_key + "/")
    events = [k for k in got if re.fullmatch(re.escape(run_key) +
                                             r"/events\.out\.tfevents\.\d{10}\.[^/]+", k)]
    want = {run_key + "/config.yaml", run_key + "/progress.csv", run_key + "/checkpoints/latest"}
    for it in (2, 4, 6):
        for f in ("manifest.json", "model.safetensors"):
            want.add("%s/checkpoints/checkpoint_%06d/%s" % (run_key, it, f))
    missing = want - set(got)
    if missing or len(events) != 1:
        fail("missing from the bucket: %r (event files: %r); it holds %r"
             % (sorted(missing), events, sorted(got)))

    # The config copy names the credentials by variable; no object holds the secret.
    cfg = get(ctx, run_key + "/config.yaml").decode()
    for var in ("S3_SECRET_ACCESS_KEY", "S3_ACCESS_KEY_ID"):
        if "${%s}" % var not in cfg:
            fail("config.yaml does not keep ${%s}" % var, cfg)
    secret = ctx.fixture["S3_SECRET_ACCESS_KEY"].encode()
    for k in keys(ctx, ""):
        if secret in get(ctx, k):
            fail("the secret key is in s3://%s/%s" % (ctx.bucket, k))
    if secret.decode() in log:
        fail("the secret key is in the log", log)

    rows = progress_rows(ctx, run_key)
    if rows != [(i, 512 * i) for i in range(1, 7)]:
        fail("progress.csv rows %r" % rows)
    # The events hold the same numbers as progress.csv (as float32).
    evs = events_of(get(ctx, events[0]))
    csv = list(csvmod.DictReader(io.StringIO(get(ctx, run_key + "/progress.csv").decode())))
    if [e[0] for e in evs] != [512 * i for i in range(1, 7)] or \
            any(e[1]["ep_return_mean"] != struct.unpack("<f", struct.pack(
                "<f", float(r["ep_return_mean"])))[0] for e, r in zip(evs, csv)):
        fail("events %r do not match progress.csv %r" % (evs, csv))

    for it in (2, 4, 6):
        m = checkpoint_ok(ctx, "%s/checkpoints/checkpoint_%06d" % (run_key, it))
        if m["iteration"] != it or m["env_steps"] != 512 * it:
            fail("checkpoint %d's manifest says iteration %d" % (it, m["iteration"]))
    if get(ctx, run_key + "/checkpoints/latest") != b"checkpoint_000006\n" or \
            get(ctx, "team/runs/latest") != b"a/checkpoints/checkpoint_000006\n":
        fail("latest pointers: %r %r" % (get(ctx, run_key + "/checkpoints/latest"),
                                         get(ctx, "team/runs/latest")))

    # Episode summaries: every finished episode exactly once.
    total = checkpoint_ok(ctx, run_key + "/checkpoints/checkpoint_000006")["episodes"]
    recs = summaries(ctx, run_key)
    if sorted(recs) != list(range(total)):
        fail("summaries hold %d records (seq %r..), the run finished %d episodes"
             % (len(recs), min(recs, default=None), total))
    r = recs[0]
    if r["rank"] != 0 or not 0 <= r["env"] < 4 or r["length"] < 1 or \
            r["return"] != r["length"] or not r["time"].endswith("Z") or \
            r["terminated"] == r["truncated"]:
        fail("summary record %r" % r)

    # A tag lands beside the run and in the run root.
    run(ctx, ["checkpoints", "tag", root + "/a/checkpoints/checkpoint_000004", "best"],
        cwd=cwd)
    if get(ctx, run_key + "/tags/best") != b"checkpoints/checkpoint_000004\n" or \
            get(ctx, "team/runs/tags/best") != b"a/checkpoints/checkpoint_000004\n":
        fail("tag objects")
    if os.listdir(cwd):
        fail("gnarl checkpoints tag wrote to the working directory")

    metrics_sync(ctx, cwd)
    print("lands: config.yaml (secrets as ${...}), progress.csv (6 rows), events (6 steps, "
          "= csv), checkpoints 2/4/6 (SHA-256), latest x2, tag x2, %d episode summaries in "
          "s3://%s/team/runs/a; nothing local" % (total, ctx.bucket))


def killed_after(ctx, cwd, name, sets, needle):
    """Start a long run, SIGKILL it once `needle` is logged: its progress.csv
    rows in the bucket (what was uploaded before the kill)."""
    b = Background(ctx, ["run.storage=" + ctx.root(), "run.name=" + name,
                         "ppo.total_steps=100000000", "metrics.episodes=false",
                         "ppo.blas_threads=1"] + sets, cwd)
    b.wait_for(needle)
    b.kill()
    return progress_rows(ctx, "runs/" + name), b.text()


def metrics_sync(ctx, cwd):
    """When a remote store gets the metrics: at each saved checkpoint, every
    metrics.upload_every iterations, else only at exit."""
    # The progress line of iteration 6 is logged before its row is added:
    # the run has flushed 5 iterations, none uploaded.
    rows, log = killed_after(ctx, cwd, "never", ["checkpoint.every=0",
                                                 "metrics.upload_every=null"], "iter 6 ")
    if rows:
        fail("a remote run with metrics.upload_every null uploaded progress.csv before a "
             "checkpoint or exit: %r" % rows, log)
    # Checkpoint 6 is logged after iteration 3's save and the metrics sync
    # that follows it: rows 1-3 at least.
    rows, log = killed_after(ctx, cwd, "ckpt", ["checkpoint.every=3",
                                                "metrics.upload_every=null"],
                             "checkpoints/checkpoint_000006 (")
    if len(rows) < 3 or rows != [(i, 512 * i) for i in range(1, len(rows) + 1)]:
        fail("after checkpoint 3 was saved, progress.csv in the bucket has rows %r" % rows, log)
    # upload_every 2: iteration 4's upload finished before iteration 5's line.
    rows, log = killed_after(ctx, cwd, "every2", ["checkpoint.every=0",
                                                  "metrics.upload_every=2"], "iter 5 ")
    if len(rows) < 4 or rows != [(i, 512 * i) for i in range(1, len(rows) + 1)]:
        fail("with metrics.upload_every 2, after iteration 4 progress.csv has rows %r"
             % rows, log)


# ---- restore -------------------------------------------------------------------


def restore(ctx):
    root = ctx.root()
    train(ctx, "a", ["ppo.total_steps=2048", "checkpoint.every=2"], cwd=ctx.fresh_dir())
    c2 = root + "/a/checkpoints/checkpoint_000002"

    # `latest` against the s3:// run root, from an empty directory.
    cwd = ctx.fresh_dir()
    log = train(ctx, "b", ["ppo.total_steps=2560"], restore="latest", cwd=cwd)
    if "RESTORING from checkpoint: %s/a/checkpoints/checkpoint_000004 (iteration 4)" % root \
            not in log or iterations(log) != [5]:
        fail("--restore latest", log)

    # By URI, no steps left: the learner saved again equals the one restored.
    log = train(ctx, "same", ["ppo.total_steps=1024"], restore=c2, cwd=cwd)
    if "RESTORING from checkpoint: %s (iteration 2)" % c2 not in log or iterations(log):
        fail("--restore %s" % c2, log)
    a, b = (get(ctx, "runs/%s/checkpoints/checkpoint_000002/model.safetensors" % r)
            for r in ("a", "same"))
    if a != b:
        fail("restored and saved again, model.safetensors differs (%d and %d bytes)"
             % (len(a), len(b)))
    m = checkpoint_ok(ctx, "runs/same/checkpoints/checkpoint_000002")
    if m["parent"] != c2:
        fail("parent %r" % m["parent"])
    if os.listdir(cwd):
        fail("restoring into an S3 run wrote to the working directory: %r" % os.listdir(cwd))

    # Into a local run (run.storage: a relative path in an empty directory).
    cwd = ctx.fresh_dir()
    log = train(ctx, "local", ["ppo.total_steps=3072"], restore=c2, cwd=cwd, storage="runs")
    if iterations(log) != [3, 4, 5, 6]:
        fail("restore into a local run", log)
    m = json.load(open(os.path.join(cwd, "runs", "local", "checkpoints", "checkpoint_000006",
                                    "manifest.json")))
    if m["parent"] != c2:
        fail("the local run's parent is %r, not %s" % (m["parent"], c2))

    # tag:NAME against the s3:// run root; list and show on s3:// URIs.
    cwd = ctx.fresh_dir()
    p = run(ctx, ["checkpoints", "tag", c2, "first"], cwd=cwd)
    if "tagged %s as first" % c2 not in p.stdout + p.stderr:
        fail("checkpoints tag", p.stdout + p.stderr)
    log = train(ctx, "t", ["ppo.total_steps=1536"], restore="tag:first", cwd=cwd)
    if "RESTORING from checkpoint: %s (iteration 2)" % c2 not in log or iterations(log) != [3]:
        fail("--restore tag:first", log)
    p = run(ctx, ["checkpoints", "list", root + "/a", "--json"], cwd=cwd)
    lst = json.loads(p.stdout)
    if [(e["uri"], e["iteration"], e["tags"], e["latest"]) for e in lst] != \
            [(c2, 2, "first", False), (root + "/a/checkpoints/checkpoint_000004", 4, None, True)]:
        fail("checkpoints list --json", p.stdout)
    p = run(ctx, ["checkpoints", "list", root + "/a"], cwd=cwd)
    rows = [l for l in p.stdout.splitlines() if "checkpoint_0000" in l]
    if len(rows) != 2 or not rows[1].startswith("*") or "first" not in rows[0]:
        fail("checkpoints list", p.stdout)
    p = run(ctx, ["checkpoints", "show", root + "/a"], cwd=cwd)
    if "verified" not in p.stdout or not re.search(r"^iteration +4$", p.stdout, re.M):
        fail("checkpoints show of the run directory", p.stdout)
    if os.listdir(cwd):
        fail("checkpoints commands on s3:// wrote to the working directory")
    print("restore: s3:// URI (model.safetensors saved again byte-identical), into a local "
          "run (parent recorded), latest and tag:first against %s; checkpoints list/show/tag "
          "on s3://; each from an empty working directory" % root)


# ---- errors --------------------------------------------------------------------


def no_training(log):
    return "iter " not in log and "starting fresh" not in log


def errors(ctx):
    cwd = ctx.fresh_dir()
    key_id = ctx.fixture["S3_ACCESS_KEY_ID"]
    wrong = "not-the-secret-" + str(os.getpid())
    bad = ctx.env(S3_SECRET_ACCESS_KEY=wrong)
    # Exit 2 when create_bucket makes the first request as the store opens
    # (a store that cannot be opened is a setup error), 1 when the run's
    # first write (config.yaml) is refused.
    for verb, sets, code in (("train", [], 2), ("train", ["storage.s3.create_bucket=false"], 1),
                             ("list", ["storage.s3.create_bucket=false"], 1)):
        if verb == "train":
            p = run(ctx, ["train"], ["run.storage=" + ctx.root(), "run.name=x"] + sets, cwd=cwd,
                    env=bad, expect=code)
        else:
            p = run(ctx, ["checkpoints", "list", ctx.root() + "/x"], sets, cwd=cwd, env=bad,
                    expect=code)
        out = p.stdout + p.stderr
        if "access denied" not in out or key_id not in out or \
                "secret key may be wrong or the clock skewed" not in out or wrong in out or \
                not no_training(out):
            fail("%s %s with a wrong secret" % (verb, " ".join(sets)), out)

    missing = "gnarl-e2e-missing-%d" % os.getpid()
    named = "bucket '%s' does not exist" % missing
    p = run(ctx, ["train"], ["run.storage=s3://%s/runs" % missing, "run.name=x",
                             "storage.s3.create_bucket=false"], cwd=cwd, expect=1)
    out = p.stderr
    if named not in out or "create_bucket: true" not in out or not no_training(out):
        fail("train into a missing bucket", out)
    # Exit 3: what was asked for is not there (as for any missing checkpoint).
    for verb in (["checkpoints", "list", "s3://%s/runs/x" % missing],
                 ["train", "--restore", "s3://%s/runs/x/checkpoints/checkpoint_000001" % missing]):
        p = run(ctx, verb, ["storage.s3.create_bucket=false"], cwd=cwd, expect=3)
        if named not in p.stderr or not no_training(p.stderr):
            fail(" ".join(verb[:2]) + " in a missing bucket", p.stderr)

    # Nobody listens on a port of a socket we bound and closed.
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    p = run(ctx, ["train"], ["run.storage=" + ctx.root(), "run.name=x",
                             "storage.s3.max_retries=1", "storage.s3.retry_base_ms=10",
                             "storage.s3.create_bucket=false"],
            cwd=cwd, env=ctx.env(S3_ENDPOINT_URL="http://127.0.0.1:%d" % port), expect=1)
    if "cannot reach S3 endpoint http://127.0.0.1:%d" % port not in p.stderr or \
            "2 attempts" not in p.stderr or not no_training(p.stderr):
        fail("an unreachable endpoint", p.stderr)
    if os.listdir(cwd):
        fail("failed starts wrote to the working directory: %r" % os.listdir(cwd))
    print("errors: wrong secret (403 with key id %s, exit non-zero before training, secret "
          "never printed), missing bucket named with create_bucket for train/list/restore, "
          "unreachable endpoint named" % key_id)


# ---- outage --------------------------------------------------------------------


def gateway(ctx, verb):
    subprocess.run([os.path.join(ctx.src, "tests", "s3", "gateway.sh"), verb,
                    ctx.fixture["GNARL_S3_DIR"]], check=True, timeout=120)


def outage(ctx):
    """With episodes truncated at 50 steps, each of the 4 envs finishes one
    at least every 50 steps, so OUT_ITERS iterations (128 steps per env)
    finish > 7000 episodes while the gateway is down: more than the summary
    queue holds (4096), so some must be dropped, whatever the speed."""
    every, out_iters = 20, 700
    cwd = ctx.fresh_dir()
    b = Background(ctx, ["run.storage=" + ctx.root(), "run.name=o", "env.params.max_steps=50",
                         "ppo.total_steps=100000000", "checkpoint.every=%d" % every,
                         "checkpoint.keep_last=1000", "checkpoint.keep_best=false",
                         "ppo.blas_threads=1", "metrics.upload_every=5",
                         "storage.s3.max_retries=1", "storage.s3.retry_base_ms=50"], cwd)
    try:
        b.wait_for("checkpoint_%06d (" % (2 * every))
        down = b.count()
        gateway(ctx, "stop")
        first = b.wait_for("NOT saved (1 in a row)", down)
        second = b.wait_for("NOT saved (2 in a row)", first)
        b.wait_for("writing episode summaries failed", down)
        failed_at = int(re.search(r"iteration (\d+) NOT saved", b.lines[first]).group(1))
        b.wait_for("iter %d " % (failed_at + out_iters), first)
        up = b.count()
        gateway(ctx, "start")
        b.wait_for("saving works again after", up)
        back = b.wait_for("episode summaries are written to", up)
        # Two more checkpoints' worth of episodes, written as they come.
        b.wait_for("saved s3://", b.wait_for("saved s3://", back) + 1)
        code = b.kill(signal.SIGTERM)
    finally:
        if b.p.poll() is None:
            b.kill()
        gateway_up(ctx)
    log = b.text()
    lines = log.splitlines()
    its = iterations(log)
    if code != 0 or its != list(range(1, len(its) + 1)) or SANITIZER.search(log):
        fail("the run did not go on through the outage (exit %d)" % code, log)
    # Checkpoints are written on the saver's thread and its outcomes logged
    # at the next iteration: the second failure is the next due checkpoint,
    # and training went on while they failed.
    failed_its = [int(x) for x in re.findall(r"checkpoint of iteration (\d+) (?:perhaps )?NOT "
                                             r"saved", "\n".join(lines[first:second + 1]))]
    if failed_its != [failed_at, failed_at + every]:
        fail("failed saves of iterations %r, expected %d and %d"
             % (failed_its, failed_at, failed_at + every), log)
    why = [l for l in lines[down:] if l.startswith("gnarl[checkpoint]: error:")]
    if not why or "cannot reach S3 endpoint" not in why[0]:
        fail("the failed save does not say the endpoint is unreachable", log)
    # Metrics uploads (every 5 iterations, and after each saved checkpoint)
    # failed too and were logged (then paused: core/metrics.h).
    if not any(re.search(r"metrics: uploading o/\S+ \(kept in memory, tried again later\): "
                         r"cannot reach S3 endpoint", l) for l in lines[down:]):
        fail("no failed metrics upload was logged during the outage", log)

    # Every checkpoint logged as saved is whole; the failed ones left no
    # manifest.  A save cut off as the gateway went down may have landed
    # ("perhaps NOT saved"): once the gateway is back the log says which.
    saved = [int(x) for x in re.findall(r"saved s3://\S+/checkpoint_(\d{6}) ", log)]
    lost = [int(x) for x in re.findall(r"checkpoint of iteration (\d+) NOT saved", log)]
    doubts = [int(x) for x in re.findall(r"checkpoint of iteration (\d+) perhaps NOT saved", log)]
    landed = [int(x) for x in re.findall(r"checkpoint of iteration (\d+), perhaps NOT saved "
                                         r"earlier, is in the store whole", log)]
    lost += [int(x) for x in re.findall(r"checkpoint of iteration (\d+), perhaps NOT saved "
                                        r"earlier, is lost", log)]
    if saved[-1] != its[-1] or not lost + landed or sorted(doubts) != sorted(
            [d for d in doubts if d in lost + landed]):
        fail("saved %r, lost %r, in doubt %r, landed %r, last iteration %d"
             % (saved, lost, doubts, landed, its[-1]), log)
    have = keys(ctx, "runs/o/checkpoints/")
    for it in saved + landed:
        checkpoint_ok(ctx, "runs/o/checkpoints/checkpoint_%06d" % it)
    for it in lost:
        if "runs/o/checkpoints/checkpoint_%06d/manifest.json" % it in have:
            fail("checkpoint %d was reported lost but has a manifest" % it)
    if get(ctx, "runs/o/checkpoints/latest") != b"checkpoint_%06d\n" % its[-1]:
        fail("latest is %r after the run" % get(ctx, "runs/o/checkpoints/latest"))
    p = run(ctx, ["checkpoints", "show", ctx.root() + "/o"], cwd=cwd)
    if "verified" not in p.stdout or not re.search(r"^iteration +%d$" % its[-1], p.stdout, re.M):
        fail("checkpoints show of the run after the outage", p.stdout)

    rows = progress_rows(ctx, "runs/o")
    if [r[0] for r in rows] != its:
        fail("progress.csv has %d rows, the run %d iterations" % (len(rows), len(its)))

    # Summaries: the bucket's records plus the drops the log counted are
    # every episode the run finished.
    total = checkpoint_ok(ctx, "runs/o/checkpoints/checkpoint_%06d" % its[-1])["episodes"]
    recs = summaries(ctx, "runs/o")
    dropped = sum(int(x) for x in re.findall(r"(\d+) summaries dropped", log))
    dropped += sum(int(x) for x in re.findall(r"(\d+) episode summaries were still queued", log))
    if dropped == 0 or len(recs) + dropped != total or max(recs) != total - 1:
        fail("summaries: %d in the bucket + %d dropped (logged), %d episodes, last seq %d"
             % (len(recs), dropped, total, max(recs)), log)
    print("outage: the gateway was stopped after checkpoint %d; %d saves failed (%s) while "
          "iterations went on (the next due one, %d, failed too); saving resumed when it came back; "
          "stopped at iteration %d, latest verifies; %d checkpoints whole; progress.csv %d "
          "rows; summaries %d written + %d dropped = %d episodes"
          % (2 * every, len(lost + landed), why[0].split(": ", 3)[-1][:70], failed_at + every,
             its[-1],
             len(saved), len(rows),
             len(recs), dropped, total))


def gateway_up(ctx):
    """Leave the fixture's gateway running for the tests after this one."""
    pidf = os.path.join(ctx.fixture["GNARL_S3_DIR"], "rgw.pid")
    if not os.path.exists(pidf):
        gateway(ctx, "start")


def main():
    mode, gnarl, src, work = sys.argv[1:5]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    ctx = Ctx(mode, os.path.abspath(gnarl), os.path.abspath(src), os.path.abspath(work))
    modes = {f.__name__: f for f in (lands, restore, errors, outage)}
    # No bucket yet: the config's create_bucket makes it.
    try:
        ctx.s3.list(ctx.bucket)
        fail("bucket %s exists before the test" % ctx.bucket)
    except s3_e2e_client.S3Error as e:
        if e.status != 404:
            raise
    modes[mode](ctx)
    try:
        ctx.s3.delete_bucket(ctx.bucket)
    except s3_e2e_client.S3Error as e:
        if e.status != 404:
            raise
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
