#!/usr/bin/python3
"""What `gnarl train` and `gnarl eval` show on stderr, in a real terminal and piped.

Usage: console_test.py MODE GNARL CONFIG WORKDIR
  tty      gnarl train in a tmux pane (a real pseudo-terminal) whose checkpoints
           cannot be written (a file where the directory goes), so errors and
           warnings come while the status line is up: the bytes written redraw
           one status line in place (erase + text, many times, no newline), the
           finished screen holds each error and warning on a line of its own, one
           status line left at 100% (iter N/N, steps/s, return), the final error;
           and every newline written is a line on the screen
  piped    stderr to a pipe: with the default log.every_seconds a line for the
           first and the last iteration (and one at most every 10 s between),
           with the share done and the time left; log.every_seconds=0: one per
           iteration; the summary names the checkpoint, and the next commands it
           prints (eval, resume) run as printed and work
  eval     gnarl eval in a tmux pane: one status line left at 100% of the
           episodes, then the results on stdout
Exits 77 (skipped) without tmux, unless CI=true (then it fails).
"""
import os
import re
import shlex
import shutil
import subprocess
import sys
import time

SMALL = ["env.num_envs=8", "ppo.rollout_steps=64", "ppo.minibatch_size=256", "ppo.epochs=1",
         "policy.hidden=[32]", "metrics.episodes=false"]
ERASE = b"\r\x1b[K"


def fail(msg, log=""):
    raise SystemExit("FAIL: %s\n%s" % (msg, log[-4000:] if log else ""))


def sets(values):
    out = []
    for v in values:
        out += ["--set", v]
    return out


class Pane:
    """A command in a detached tmux session of its own server: its raw bytes
    (pipe-pane, from before the first one) and its screen when it is done."""

    def __init__(self, work, argv, width=250, height=50):
        self.sock = "gnarl-console-%d" % os.getpid()
        self.raw = os.path.join(work, "raw.bin")
        self.code = os.path.join(work, "exit_code")
        go = os.path.join(work, "go")
        for f in (self.raw, go, self.code):
            if os.path.exists(f):
                os.unlink(f)
        env = "GNARL_PLUGIN_PATH=%s" % shlex.quote(os.environ.get("GNARL_PLUGIN_PATH", ""))
        cmd = "cd %s && while [ ! -e go ]; do sleep 0.05; done; env %s %s; echo $? > %s" % (
            shlex.quote(work), env, " ".join(shlex.quote(a) for a in argv),
            shlex.quote(self.code))
        self.tmux("new-session", "-d", "-s", "t", "-x", str(width), "-y", str(height),
                  "sh", "-c", cmd)
        self.tmux("set-option", "-t", "t", "remain-on-exit", "on")
        self.tmux("pipe-pane", "-t", "t", "-o", "cat >> %s" % shlex.quote(self.raw))
        open(go, "w").close()

    def tmux(self, *args):
        return subprocess.run(["tmux", "-L", self.sock] + list(args), check=True,
                              capture_output=True, text=True).stdout

    def wait(self, timeout=240):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if os.path.exists(self.code) and open(self.code).read().endswith("\n"):
                time.sleep(0.3)  # pipe-pane's last bytes
                return int(open(self.code).read())
            time.sleep(0.2)
        fail("the command in the pane did not end within %d s" % timeout, self.screen())

    def screen(self):
        text = self.tmux("capture-pane", "-p", "-J", "-S", "-", "-t", "t")
        lines = [l.rstrip() for l in text.splitlines() if not l.startswith("Pane is dead")]
        while lines and not lines[-1]:
            lines.pop()
        return lines

    def close(self):
        subprocess.run(["tmux", "-L", self.sock, "kill-server"], capture_output=True)


def in_pane(work, argv):
    """Run argv in a pane: its exit code, finished screen and raw bytes."""
    pane = Pane(work, argv)
    try:
        code = pane.wait()
        screen = pane.screen()
    finally:
        pane.close()
    return code, screen, open(pane.raw, "rb").read()


def status_lines(screen, unit):
    return [l for l in screen if re.match(r"\[[=> ]{20}\] +\d+% \S+/\S+ " + unit, l)]


def tty(gnarl, config, work):
    run_dir = os.path.join(work, "runs", "blocked")
    os.makedirs(run_dir, exist_ok=True)
    open(os.path.join(run_dir, "checkpoints"), "w").write("not a directory\n")
    argv = [gnarl, "train", "-c", config] + sets(SMALL + [
        "run.storage=runs", "run.name=blocked", "ppo.total_steps=51200",
        "checkpoint.every=10"])
    code, screen, raw = in_pane(work, argv)
    text = "\n".join(screen)
    if code != 1:
        fail("exit %d (the last checkpoint cannot be saved: 1 expected)" % code, text)
    if raw.count(ERASE) < 5 or raw.count(b"iter 100/100") != 1:
        fail("%d status redraws, %d of the final one: not a line updated in place"
             % (raw.count(ERASE), raw.count(b"iter 100/100")), text)
    errors = [l for l in screen if l.startswith("gnarl[checkpoint]: error:")]
    warnings = [l for l in screen if l.startswith("gnarl[checkpoint]: warning: checkpoint of "
                                                  "iteration")]
    if len(errors) < 9 or len(warnings) < 9:
        fail("%d errors and %d warnings on lines of their own (10 of each expected)"
             % (len(errors), len(warnings)), text)
    mixed = [l for l in screen if "gnarl[" in l and ("[==" in l or "% " in l[:30])]
    if mixed:
        fail("a message shares a line with the status: %r" % mixed[0], text)
    bars = status_lines(screen, "steps")
    if len(bars) != 1 or "100%" not in bars[0] or "iter 100/100" not in bars[0] \
            or "steps/s" not in bars[0] or "return" not in bars[0]:
        fail("one status line at 100%% expected: %r" % bars, text)
    if not screen[-1].startswith("gnarl: error:"):
        fail("the final error is not the last line", text)
    newlines = raw.count(b"\n")
    if newlines != len(screen):
        fail("%d newlines written, %d lines on the screen" % (newlines, len(screen)), text)
    print("tty: %d lines on the screen from %d bytes (%d status redraws); errors and "
          "warnings above the status line; one status line left at 100%%"
          % (len(screen), len(raw), raw.count(ERASE)))


def train(gnarl, config, work, name, extra=()):
    p = subprocess.run([gnarl, "train", "-c", config] + sets(
        SMALL + ["run.storage=" + os.path.join(work, "runs"), "run.name=" + name,
                 "ppo.total_steps=20480"] + list(extra)),
        capture_output=True, text=True, cwd=work)
    if p.returncode != 0:
        fail("gnarl train exit %d" % p.returncode, p.stderr)
    return p.stderr.splitlines()


def piped(gnarl, config, work):
    t0 = time.time()
    lines = train(gnarl, config, work, "calm")
    took = time.time() - t0
    its = [l for l in lines if l.startswith("iter ")]
    if not its or not its[0].startswith("iter 1 |") or not its[-1].startswith("iter 40 |"):
        fail("the first and the last iteration's lines expected", "\n".join(lines))
    if len(its) > 2 + int(took / 10.0) + 1:
        fail("%d progress lines in %.1f s with log.every_seconds 10" % (len(its), took),
             "\n".join(lines))
    if not re.search(r"\| 100% 20\.5k/20\.5k steps \| \S+ steps/s \| 0s left \|", its[-1]):
        fail("no share done and time left in %r" % its[-1])
    every = [l for l in train(gnarl, config, work, "every", ["log.every_seconds=0"])
             if l.startswith("iter ")]
    if [int(l.split()[1]) for l in every] != list(range(1, 41)):
        fail("log.every_seconds=0: one line per iteration expected", "\n".join(every))
    # The summary, and its next commands as printed.
    text = "\n".join(lines)
    m = re.search(r"^done: iteration 40 of 40, 20480 env steps, \d+ episodes$", text, re.M)
    ck = re.search(r"^  checkpoint  (\S+)$", text, re.M)
    if not m or not ck or not re.search(r"^  time        \S+ \(\S+ steps/s\)$", text, re.M) \
            or not re.search(r"^  return      [-0-9.]+ at the end, best [-0-9.]+", text, re.M):
        fail("the summary lacks what it should say", text)
    nxt = lines[lines.index("next:") + 1:]
    ev = [l.strip() for l in nxt if " eval " in l and "--episodes 100" in l]
    resume = [l.strip() for l in nxt if " train " in l and "--restore" in l]
    if not ev or not resume or ck.group(1) not in ev[0] or "tensorboard --logdir" not in text:
        fail("the next commands are missing", text)
    p = subprocess.run(shlex.split(ev[0].replace("--episodes 100", "--episodes 4")),
                       capture_output=True, text=True, cwd=work)
    if p.returncode != 0 or "4 episodes of overworld, trained policy" not in p.stdout:
        fail("the printed eval command failed (exit %d)" % p.returncode, p.stdout + p.stderr)
    p = subprocess.run(shlex.split(resume[0]), capture_output=True, text=True, cwd=work)
    if p.returncode != 0 or "RESTORING from checkpoint: " + ck.group(1) not in p.stderr \
            or "done: iteration 80 of 80, 40960 env steps" not in p.stderr:
        fail("the printed resume command failed (exit %d)" % p.returncode, p.stderr)
    print("piped: %d of 40 iterations printed in %.1f s (every one with "
          "log.every_seconds=0); the summary's eval and resume commands work as printed"
          % (len(its), took))


def evaluate(gnarl, config, work):
    train(gnarl, config, work, "for_eval")
    argv = [gnarl, "eval", "-c", config, "--restore", os.path.join(work, "runs", "for_eval"),
            "--episodes", "8"] + sets(SMALL + ["env.params.max_steps=300"])
    code, screen, _ = in_pane(work, argv)
    text = "\n".join(screen)
    bars = status_lines(screen, "episodes")
    if code != 0 or len(bars) != 1 or "100% 8/8 episodes" not in bars[0] \
            or "return" not in bars[0]:
        fail("exit %d; one status line at 100%% of 8 episodes expected: %r" % (code, bars),
             text)
    if not any(l.startswith("8 episodes of overworld, trained policy") for l in screen):
        fail("no results after the status line", text)
    print("eval: one status line left at 100%, then the results")


def main():
    mode, gnarl, config, work = sys.argv[1:5]
    if not shutil.which("tmux"):
        if os.environ.get("CI") == "true":
            fail("tmux is not installed (scripts/packages.txt lists it)")
        print("skipped: tmux is not installed")
        sys.exit(77)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    gnarl, config = os.path.abspath(gnarl), os.path.abspath(config)
    {"tty": tty, "piped": piped, "eval": evaluate}[mode](gnarl, config, work)


if __name__ == "__main__":
    main()
