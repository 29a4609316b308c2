#!/usr/bin/python3
"""Drive headless Chromium over the DevTools protocol to check ferryd's HTML
directory page: listing entries, a browser upload, and a screenshot.

Standard library only. Talks CDP over --remote-debugging-pipe (we write
NUL-terminated JSON to the browser's fd 3, read it from its fd 4), so there
is no port to race for and no websocket client needed.

  drive_chromium.py --url URL --expect NAME [--expect NAME ...]
                    --upload FILE --screenshot OUT.png
                    [--timeout S] [--chromium PATH]

Exit 0 on success, 1 with a message on stderr on any failure.
"""
import argparse
import base64
import ctypes
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time


class Fail(Exception):
    pass


def step(msg):
    print(msg, flush=True)


class DevTools:
    def __init__(self, wfd, rfd, deadline):
        self.wfd, self.rfd, self.deadline = wfd, rfd, deadline
        self.buf, self.last_id, self.events = b"", 0, []
        os.set_blocking(wfd, False)  # a wedged browser must not block us

    def remaining(self, what):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise Fail(f"timed out ({what})")
        return left

    def _read(self, what):
        while b"\0" not in self.buf:
            if not select.select([self.rfd], [], [], self.remaining(what))[0]:
                raise Fail(f"timed out ({what})")
            chunk = os.read(self.rfd, 1 << 20)
            if not chunk:
                raise Fail(f"browser closed the DevTools pipe ({what})")
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\0", 1)
        msg = json.loads(raw)
        if "method" in msg:
            self.events.append(msg)
        return msg

    def call(self, method, session=None, **params):
        self.last_id += 1
        msg = {"id": self.last_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        data = json.dumps(msg).encode() + b"\0"
        while data:
            select.select([], [self.wfd], [], self.remaining(method))
            try:
                data = data[os.write(self.wfd, data):]
            except BlockingIOError:
                pass
        while True:
            reply = self._read(method)
            if reply.get("id") == self.last_id:
                if "error" in reply:
                    raise Fail(f"{method} failed: {reply['error'].get('message')}")
                return reply.get("result", {})

    def wait_event(self, method, session):
        while True:
            for i, ev in enumerate(self.events):
                if ev["method"] == method and ev.get("sessionId") == session:
                    return self.events.pop(i).get("params", {})
            self._read(f"waiting for {method}")

    def evaluate(self, session, expr):
        r = self.call("Runtime.evaluate", session, expression=expr,
                      returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise Fail(f"JS error in {expr!r}: {r['exceptionDetails'].get('text')}")
        return r["result"].get("value")


def launch(chromium, tmp):
    # Move the child's pipe ends to fds >= 10 first so the dup2 onto 3/4 in
    # the child never collides (dup2(fd, fd) would keep CLOEXEC set).
    to_r, to_w = os.pipe()
    from_r, from_w = os.pipe()
    child_in, child_out = (fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_r, from_w))
    os.close(to_r)
    os.close(from_w)

    def place_fds():  # runs in the child; pass_fds can't renumber fds
        os.dup2(child_in, 3)
        os.dup2(child_out, 4)

    flags = ["--headless=new", "--disable-gpu", "--no-first-run",
             "--no-default-browser-check", "--disable-extensions",
             "--disable-background-networking", "--disable-dev-shm-usage",
             f"--user-data-dir={os.path.join(tmp, 'profile')}",
             "--window-size=1200,900", "--remote-debugging-pipe"]
    if os.geteuid() == 0:
        flags.append("--no-sandbox")  # the zygote refuses to start as root
    # Otherwise the crashpad database lands in ~/.config despite --user-data-dir.
    env = dict(os.environ, XDG_CONFIG_HOME=os.path.join(tmp, "config"),
               XDG_CACHE_HOME=os.path.join(tmp, "cache"))
    log = open(os.path.join(tmp, "chromium.log"), "wb")
    try:
        proc = subprocess.Popen([chromium] + flags + ["about:blank"],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                env=env, preexec_fn=place_fds, close_fds=False,
                                start_new_session=True)  # own group: kill all helpers
    except OSError as e:
        os.close(to_w)
        os.close(from_r)
        raise Fail(f"cannot start {chromium}: {e}")
    finally:
        log.close()
        os.close(child_in)
        os.close(child_out)
    return proc, to_w, from_r


def become_subreaper():
    # Chromium helpers (zygote children, double-forked crashpad handlers) get
    # orphaned when the browser dies; as subreaper they come to us, not init.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def kill_leftovers(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
    # Kill and reap every orphan handed to us (found by parent pid in /proc),
    # so nothing, not even a zombie, outlives the script.
    give_up = time.monotonic() + 3
    while time.monotonic() < give_up:
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == os.getpid():
                        os.kill(int(pid), signal.SIGKILL)
            except (OSError, IndexError, ValueError):
                pass
        try:
            if os.waitpid(-1, os.WNOHANG) == (0, 0):
                time.sleep(0.02)
        except ChildProcessError:
            return


def run(args, cdp, proc):
    step(f"browser: {cdp.call('Browser.getVersion')['product']}")
    target = cdp.call("Target.createTarget", url="about:blank")["targetId"]
    s = cdp.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    cdp.call("Page.enable", s)
    nav = cdp.call("Page.navigate", s, url=args.url)
    if nav.get("errorText"):
        raise Fail(f"cannot open {args.url}: {nav['errorText']}")
    cdp.wait_event("Page.loadEventFired", s)
    step(f"loaded {args.url}")

    found = cdp.evaluate(s, "(() => { const l = document.getElementById('listing');"
                         " return l && Array.from(l.querySelectorAll('a'),"
                         " a => a.textContent.trim()); })()")
    if found is None:
        raise Fail("page has no element with id 'listing'")
    missing = [n for n in args.expect if n not in found]
    if missing:
        raise Fail(f"listing lacks {missing}; found {found}")
    step(f"listing ok: {', '.join(args.expect)}")

    path = os.path.abspath(args.upload)
    name = os.path.basename(path)
    root = cdp.call("DOM.getDocument", s, depth=0)["root"]["nodeId"]
    node = cdp.call("DOM.querySelector", s, nodeId=root,
                    selector="input#upload-input")["nodeId"]
    if not node:
        raise Fail("page has no input#upload-input")
    # Chromium's setFileInputFiles fires input+change itself; a second change
    # would make the page upload twice, so count first and dispatch only if none.
    cdp.evaluate(s, "window.__driveChanges = 0; document.getElementById("
                 "'upload-input').addEventListener('change', () => window.__driveChanges++)")
    cdp.call("DOM.setFileInputFiles", s, files=[path], nodeId=node)
    if not cdp.evaluate(s, "window.__driveChanges"):
        cdp.evaluate(s, "document.getElementById('upload-input')"
                     ".dispatchEvent(new Event('change', {bubbles: true}))")
    step(f"upload started: {name}")
    while True:  # success first: a file may well be called "failed.txt"
        status = cdp.evaluate(s, "(document.getElementById('upload-status')"
                              " || {}).textContent || ''").strip()
        if f"uploaded {name}" in status:
            break
        if "failed" in status:
            raise Fail(f"upload failed: {status}")
        if time.monotonic() + 0.1 >= cdp.deadline:
            raise Fail(f"timed out waiting for upload; status {status!r}")
        time.sleep(0.1)
    step(f"upload ok: {status}")

    shot = cdp.call("Page.captureScreenshot", s, format="png")["data"]
    with open(args.screenshot, "wb") as f:
        f.write(base64.b64decode(shot))
    step(f"screenshot: {args.screenshot}")

    cdp.deadline = min(cdp.deadline, time.monotonic() + 5)
    try:
        cdp.call("Browser.close")
    except Fail:
        pass  # the pipe may close before the reply arrives
    try:
        proc.wait(max(0.1, cdp.deadline - time.monotonic()))
        step("browser closed")
    except subprocess.TimeoutExpired:
        step("browser did not exit after Browser.close; killing it")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--expect", action="append", required=True, metavar="NAME")
    ap.add_argument("--upload", required=True, metavar="FILE")
    ap.add_argument("--screenshot", required=True, metavar="OUT.png")
    ap.add_argument("--timeout", type=float, default=60.0, metavar="S")
    ap.add_argument("--chromium", default="/usr/bin/chromium", metavar="PATH")
    args = ap.parse_args()
    deadline = time.monotonic() + args.timeout

    def on_signal(signum, _frame):
        raise Fail(f"interrupted by signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    become_subreaper()
    if not os.path.isfile(args.upload):
        print(f"drive_chromium: FAIL: upload file not found: {args.upload}", file=sys.stderr)
        return 1
    tmp = tempfile.mkdtemp(prefix="drive-chromium-")
    proc = None
    try:
        proc, wfd, rfd = launch(args.chromium, tmp)
        try:
            run(args, DevTools(wfd, rfd, deadline), proc)
        finally:
            os.close(wfd)
            os.close(rfd)
        return 0
    except Exception as e:  # noqa: BLE001 - any failure must be exit 1 + message
        msg = str(e) if isinstance(e, Fail) else f"{type(e).__name__}: {e}"
        print(f"drive_chromium: FAIL: {msg}", file=sys.stderr)
        if proc is None or proc.poll() is None:
            return 1  # browser still fine: its log would be noise
        try:
            with open(os.path.join(tmp, "chromium.log"), errors="replace") as f:
                tail = [l for l in f if "dbus" not in l][-5:]
            if tail:
                print(f"chromium exited ({proc.returncode}); log tail:\n" + "".join(tail),
                      end="", file=sys.stderr)
        except OSError:
            pass
        return 1
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):  # don't let a signal cut cleanup short
            signal.signal(sig, signal.SIG_IGN)
        if proc is not None:
            kill_leftovers(proc)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
