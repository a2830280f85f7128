#!/usr/bin/python3
"""Episode videos, read back by independent readers (ffprobe, Chromium, protobuf).

Usage: video_test.py MODE GNARL CONFIG WORKDIR [CHROMIUM]
  eval   gnarl eval --video FILE for .mp4, .webm and .gif: ffprobe decodes each
         (codec h264 / vp9 / gif, 320x288 at video.scale 2, 30 fps) and counts one
         frame per step of the first episode plus its start, as many as eval says
         it wrote; --frames and --video together agree; a name gnarl does not write
         (.avi) exits 2, an env without frames (cartpole) and a directory that does
         not exist fail with a message and leave no file behind
  train  gnarl train with video.every: each <run>/videos/iter_N.mp4 decodes (h264,
         320x288) to the episode's steps + 1 frames, and the return the log gives
         for it is the one the episode summaries give env 0's episode that ended in
         iteration N; TensorBoard's event file (CRCs checked, protobuf) holds one
         video/episode image per video, a GIF of 160x144 that ffprobe decodes to
         half the frames; video.every on cartpole exits 2 naming the key
  page   a run with the HUD and video.every: /video serves the newest video
         (video/mp4, 404 before one), the events count videos, the HUD page in
         headless Chromium shows it in its <video> element, and a page playing
         /video in Chromium sees 320x288 frames, the video's duration, and time
         moving (the HUD's screenshot is WORKDIR/hud_video.png)
Exits 77 (skipped) without ffprobe (and, for page, Chromium), unless CI=true.
"""
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import formats_tfevents  # noqa: E402  (its reader of event files)
from browser import Browser  # noqa: E402
from hud_train import free_port  # noqa: E402

SMALL = ["env.num_envs=8", "ppo.rollout_steps=64", "ppo.minibatch_size=256", "ppo.epochs=1",
         "policy.hidden=[32]", "env.params.max_steps=150", "log.every_seconds=0"]
CODECS = {"mp4": "h264", "webm": "vp9", "gif": "gif"}


def fail(msg, out=""):
    raise SystemExit("FAIL: %s\n%s" % (msg, out[-4000:] if out else ""))


def sets(values):
    out = []
    for v in values:
        out += ["--set", v]
    return out


def run(args, code=0, cwd=None):
    p = subprocess.run(args, capture_output=True, text=True, cwd=cwd, timeout=600)
    if p.returncode != code:
        fail("%s: exit %d, expected %d" % (" ".join(args[:6]), p.returncode, code),
             p.stdout + p.stderr)
    return p


def probe(path):
    """(codec, width, height, decoded frames, seconds) by ffprobe."""
    p = run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
             "-show_entries", "stream=codec_name,width,height,nb_read_frames,avg_frame_rate",
             "-show_entries", "format=duration", "-of", "json", path])
    j = json.loads(p.stdout)
    s = j["streams"][0]
    return (s["codec_name"], s["width"], s["height"], int(s["nb_read_frames"]),
            float(j["format"].get("duration", "nan")))


def evaluate(gnarl, config, work):
    base = [gnarl, "eval", "-c", config, "--policy", "random", "--episodes", "2", "--json"] + \
        sets(["env.params.max_steps=120", "env.params.enemies_per_screen=0"])
    lengths = set()
    for ext, codec in CODECS.items():
        path = os.path.join(work, "episode." + ext)
        j = json.loads(run(base + ["--video", path]).stdout)
        got = probe(path)
        if got[:3] != (codec, 320, 288) or got[3] != j["frames"] or j["video"] != path:
            fail(".%s: ffprobe says %r, eval wrote %d frames" % (ext, got, j["frames"]))
        lengths.add(j["frames"])
        print("eval --video .%s: %s %dx%d, %d frames decoded, %.2f s" % ((ext,) + got))
    if len(lengths) != 1:
        fail("the same episode gave %r frames" % lengths)
    frames_dir = os.path.join(work, "frames")
    j = json.loads(run(base + ["--video", os.path.join(work, "both.mp4"),
                               "--frames", frames_dir]).stdout)
    if len(os.listdir(frames_dir)) != j["frames"] or probe(os.path.join(work, "both.mp4"))[3] \
            != j["frames"]:
        fail("--frames and --video disagree")
    p = run(base + ["--video", os.path.join(work, "episode.avi")], code=2)
    if ".mp4 (H.264), .webm (VP9) or .gif" not in p.stderr:
        fail("an unknown extension: no advice", p.stderr)
    cp = os.path.join(os.path.dirname(config), "cartpole.yaml")
    p = run([gnarl, "eval", "-c", cp, "--policy", "random", "--episodes", "1", "--video",
             os.path.join(work, "cart.mp4")], code=1)
    if "renders no frames" not in p.stderr or os.path.exists(os.path.join(work, "cart.mp4")):
        fail("cartpole --video", p.stderr)
    missing = os.path.join(work, "no", "such", "dir", "x.mp4")
    p = run(base + ["--video", missing], code=1)
    if "cannot create the file" not in p.stderr or glob.glob(os.path.join(work, "no*")):
        fail("an unwritable --video", p.stderr)
    print("eval --video: bad names exit 2, envs without frames and unwritable paths fail "
          "with a message and no file")


def gif_frames(blob, work, n):
    path = os.path.join(work, "tb_%d.gif" % n)
    open(path, "wb").write(blob)
    return probe(path)


def train(gnarl, config, work):
    runs = os.path.join(work, "runs")
    p = run([gnarl, "train", "-c", config] + sets(SMALL + [
        "run.storage=" + runs, "run.name=v", "ppo.total_steps=40960", "video.every=20"]))
    lines = re.findall(r"gnarl\[video\]: (\S+): an episode of (\d+) steps, return ([-0-9.]+)",
                       p.stderr)
    files = sorted(glob.glob(os.path.join(runs, "v", "videos", "iter_*.mp4")))
    if len(lines) < 3 or len(files) != len(lines):
        fail("%d videos logged, %d files" % (len(lines), len(files)), p.stderr)
    summaries = [json.loads(l) for f in glob.glob(os.path.join(runs, "v", "workers",
                                                             "worker_0", "*.jsonl"))
                 for l in open(f)]
    for uri, steps, ret in lines:
        it = int(re.search(r"iter_(\d+)\.mp4$", uri).group(1))
        got = probe(uri)
        if got[:4] != ("h264", 320, 288, int(steps) + 1):
            fail("%s: ffprobe says %r for an episode of %s steps" % (uri, got, steps))
        ep = [s for s in summaries if s["env"] == 0 and s["iteration"] == it]
        if len(ep) != 1 or ep[0]["length"] != int(steps) or \
                abs(ep[0]["return"] - float(ret)) > 0.051:
            fail("%s: the summaries of env 0 in iteration %d: %r" % (uri, it, ep))
    Event = formats_tfevents.event_class()
    images = []
    for f in glob.glob(os.path.join(runs, "v", "events.out.tfevents.*")):
        for data in formats_tfevents.records(open(f, "rb").read()):
            ev = Event()
            ev.ParseFromString(data)
            images += [(ev.step, v.image) for v in ev.summary.value if v.tag == "video/episode"]
    if len(images) != len(lines):
        fail("%d images in TensorBoard for %d videos" % (len(images), len(lines)))
    for n, ((step, img), (_, steps, _)) in enumerate(zip(images, lines)):
        got = gif_frames(img.encoded_image_string, work, n)
        want = (int(steps) + 1 + 1) // 2
        if (img.width, img.height, img.colorspace) != (160, 144, 3) or \
                got[:4] != ("gif", 160, 144, want):
            fail("TensorBoard image %d: %dx%d, ffprobe %r, %d frames expected"
                 % (n, img.width, img.height, got, want))
    cp = os.path.join(os.path.dirname(config), "cartpole.yaml")
    p = run([gnarl, "train", "-c", cp, "--set", "video.every=1", "--set",
             "run.storage=" + runs], code=2)
    if "video.every" not in p.stderr or "renders no frames" not in p.stderr:
        fail("video.every on cartpole", p.stderr)
    print("train: %d videos decode to their episodes' steps + 1 frames with the summaries' "
          "returns; %d GIFs in TensorBoard (half the frames, 160x144); cartpole refused"
          % (len(lines), len(images)))


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.headers.get("Content-Type"), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read()


PROBE = """<html><body><pre id=out>pending</pre><script>
const v = document.createElement('video');
v.muted = true;
v.onloadeddata = () => v.play().then(() => setTimeout(() => {
  document.getElementById('out').textContent = JSON.stringify({w: v.videoWidth,
    h: v.videoHeight, duration: v.duration, t: v.currentTime});
}, 700)).catch((e) => { document.getElementById('out').textContent = 'play: ' + e; });
v.onerror = () => { document.getElementById('out').textContent = 'error ' + v.error.code; };
v.src = '%s';
document.body.appendChild(v);
</script></body></html>
"""


class HudRun:
    """gnarl train with the HUD and a video every iteration, until stop()."""

    def __init__(self, gnarl, config, work, name):
        self.port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        args = [gnarl, "train", "-c", config] + sets(SMALL + [
            "run.storage=" + os.path.join(work, "runs"), "run.name=" + name,
            "ppo.total_steps=1000000000", "video.every=1", "hud.port=%d" % self.port,
            "env.params.max_steps=100"])
        self.proc = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                     text=True)
        self.log = []
        threading.Thread(target=lambda: self.log.extend(self.proc.stderr), daemon=True).start()

    def first_video(self):
        """The first /video that answers 200 (404 until then)."""
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                fail("the run ended (exit %d)" % self.proc.returncode, "".join(self.log))
            try:
                got = fetch(self.base + "/video")
            except OSError:
                got = None
            if got and got[0] == 200:
                return got
            if got and got[0] != 404:
                fail("/video: %d before a video" % got[0])
            time.sleep(0.3)
        fail("/video never served a video", "".join(self.log))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def page(gnarl, config, work, chromium):
    hud = HudRun(gnarl, config, work, "h")
    try:
        status, ctype, body = hud.first_video()
        if ctype != "video/mp4" or body[4:8] != b"ftyp":
            fail("/video: %s, %r" % (ctype, body[:16]))
        mp4 = os.path.join(work, "served.mp4")
        open(mp4, "wb").write(body)
        got = probe(mp4)
        if got[:3] != ("h264", 320, 288) or got[3] < 2:
            fail("/video: ffprobe says %r" % (got,))
        status, _, body = fetch(hud.base + "/api/metrics?last=1")
        if status != 200 or json.loads(body).get("video", 0) < 1:
            fail("/api/metrics does not count the video: %r" % body[:300])
        probe_dir = os.path.join(work, "probe")
        os.makedirs(probe_dir, exist_ok=True)
        open(os.path.join(probe_dir, "probe.html"), "w").write(PROBE % (hud.base + "/video"))
        shot = os.path.join(work, "hud_video.png")
        with Browser(chromium, os.path.join(work, "chromium")) as b:
            b.open("file://" + os.path.join(probe_dir, "probe.html"))
            out = b.wait_for("(() => { const t = document.getElementById('out').textContent; "
                             "return t === 'pending' ? '' : t; })()", 300,
                             "the probe's verdict on /video")
            played = json.loads(out) if out.startswith("{") else None
            if not played or (played["w"], played["h"]) != (320, 288) or played["t"] <= 0 or \
                    not played["duration"] > 0:
                fail("Chromium did not play /video: %s" % out)
            b.open(hud.base + "/")
            b.wait_for("document.getElementById('videoinfo').className === ''", 300,
                       "the video on the HUD page")
            page_dom = b.dom()
            b.screenshot(shot)
    finally:
        hud.stop()
    if not re.search(r'<video id="video"[^>]*src="/video\?n=\d+"', page_dom) or \
            not re.search(r'<div id="videoinfo" class="">episode \d+, seen by iteration',
                          page_dom):
        fail("the HUD page shows no video", page_dom[-3000:])
    if os.path.getsize(shot) < 10000:
        fail("the screenshot of the HUD is %d bytes" % os.path.getsize(shot))
    print("page: /video served an MP4 (%s %dx%d, %d frames); Chromium played it (%dx%d, "
          "%.2f s long, at %.2f s); the HUD page shows it (%s)"
          % (got[0], got[1], got[2], got[3], played["w"], played["h"], played["duration"],
             played["t"], shot))


def main():
    mode, gnarl, config, work = sys.argv[1:5]
    chromium = sys.argv[5] if len(sys.argv) > 5 else ""
    need = ["ffprobe"] + ([chromium or "chromium"] if mode == "page" else [])
    missing = [n for n in need if not shutil.which(n)]
    if missing:
        if os.environ.get("CI") == "true":
            fail("%s not installed (scripts/packages.txt lists them)" % ", ".join(missing))
        print("skipped: %s not installed" % ", ".join(missing))
        sys.exit(77)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    gnarl, config = os.path.abspath(gnarl), os.path.abspath(config)
    if mode == "page":
        page(gnarl, config, work, chromium)
    else:
        {"eval": evaluate, "train": train}[mode](gnarl, config, work)


if __name__ == "__main__":
    main()
