"""Headless Chromium driven over the DevTools protocol on a pipe
(--remote-debugging-pipe: commands on the child's fd 3, replies and events
on its fd 4, each a JSON text ended by a NUL byte), with the standard library
only.  A test opens a page, waits for a condition the page itself reports
(a JavaScript expression), then reads the DOM or takes a screenshot.

Why not `--screenshot` with `--virtual-time-budget`: a page that keeps an
event stream open never lets the virtual clock run out, and when the stream
ends Chromium 156 can still sit forever without writing the file (seen under
ASan: the run stopped, Chromium idle for ten minutes).  Here every wait is
for something the page says, bounded by a deadline that only catches hangs.
"""
import base64
import fcntl
import json
import os
import select
import subprocess
import time


class BrowserError(Exception):
    pass


class Browser:
    def __init__(self, chromium, profile_dir, width=1400, height=1000):
        self._to_child_r, self._to_child_w = os.pipe()
        self._from_child_r, self._from_child_w = os.pipe()
        flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 "--user-data-dir=" + profile_dir,
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
                 "--window-size=%d,%d" % (width, height), "--remote-debugging-pipe",
                 "about:blank"]

        def fds_3_and_4():
            # Python's own descriptors are close-on-exec; dup2 makes 3 and 4
            # inheritable.  Both ends move above 9 first: either may be 3 or 4.
            r = fcntl.fcntl(self._to_child_r, fcntl.F_DUPFD_CLOEXEC, 10)
            w = fcntl.fcntl(self._from_child_w, fcntl.F_DUPFD_CLOEXEC, 10)
            os.dup2(r, 3)
            os.dup2(w, 4)

        self.proc = subprocess.Popen(flags, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     preexec_fn=fds_3_and_4, close_fds=False)
        os.close(self._to_child_r)
        os.close(self._from_child_w)
        self._buf = b""
        self._next_id = 0
        self._session = None
        self.width, self.height = width, height

    def _send(self, method, params, session):
        self._next_id += 1
        msg = {"id": self._next_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self._to_child_w, json.dumps(msg).encode() + b"\0")
        return self._next_id

    def _read_message(self, deadline):
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError("no reply from Chromium")
            ready, _, _ = select.select([self._from_child_r], [], [], left)
            if ready:
                chunk = os.read(self._from_child_r, 65536)
                if not chunk:
                    raise BrowserError("Chromium closed its DevTools pipe (exit %s)"
                                       % self.proc.poll())
                self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, timeout=120, session=True):
        """One command; its result.  Events met on the way are dropped."""
        want = self._send(method, params or {}, self._session if session else None)
        deadline = time.monotonic() + timeout
        while True:
            msg = self._read_message(deadline)
            if msg.get("id") == want:
                if "error" in msg:
                    raise BrowserError("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})

    def open(self, url):
        target = self.call("Target.createTarget", {"url": "about:blank"}, session=False)
        self._session = self.call("Target.attachToTarget",
                                  {"targetId": target["targetId"], "flatten": True},
                                  session=False)["sessionId"]
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": self.width, "height": self.height, "deviceScaleFactor": 1,
                   "mobile": False})
        self.call("Page.navigate", {"url": url})
        # Page.navigate answers before the new document replaces the old one.
        self.wait_for("location.href === %s && document.readyState !== 'loading'"
                      % json.dumps(url), 600, "the page %s loaded" % url)

    def evaluate(self, expression):
        r = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in r:
            raise BrowserError("%s: %s" % (expression, r["exceptionDetails"]))
        return r["result"].get("value")

    def wait_for(self, expression, deadline_s, what, poll_s=0.2):
        """Until the page's `expression` is truthy; its value.  The deadline
        is a bound on a hang, not a measure."""
        end = time.monotonic() + deadline_s
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > end:
                raise BrowserError("the page never showed %s in %d s" % (what, deadline_s))
            time.sleep(poll_s)

    def dom(self):
        return self.evaluate("document.documentElement.outerHTML")

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            if self.proc.poll() is None:
                self.call("Browser.close", session=False, timeout=30)
        except (BrowserError, OSError):
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_child_w, self._from_child_r):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
