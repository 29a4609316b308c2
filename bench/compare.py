#!/usr/bin/env python3
"""ferryd side by side with nginx, the reference Python server and the machine's limits.

One run starts every server on the same files on 127.0.0.1, runs every scenario of
docs/performance.md on each, repeats the whole round (servers in alternating order, so drift
on a shared machine hits every column alike) and reports medians, min-max and the ratios the
targets are stated in. bench/compare.sh installs what is missing, builds, and calls this.

Every load is bounded in time; every process started here is stopped by its PID at the end,
also on error or Ctrl-C.
"""
import argparse
import datetime
import json
import os
import platform
import re
import resource
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC_BEGIN = "<!-- compare.sh: begin -->"
DOC_END = "<!-- compare.sh: end -->"
SERVERS = ["ferryd-native", "ferryd-http", "nginx", "seed"]


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Processes:
    """Servers started here, each in its own session, stopped by PID (then its group)."""

    def __init__(self, logs):
        self.logs = logs
        self.running = {}

    def start(self, name, argv, **kwargs):
        out = open(os.path.join(self.logs, name + ".log"), "ab")
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, **kwargs)
        self.running[name] = proc
        log(f"started {name} (pid {proc.pid}): {' '.join(argv)}")
        return proc

    def stop(self, name):
        proc = self.running.pop(name, None)
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # anything it left in its own group
        except (ProcessLookupError, PermissionError):
            pass
        log(f"stopped {name} (pid {proc.pid})")

    def stop_all(self):
        for name in list(self.running):
            self.stop(name)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listen(port, proc, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {seconds} s")


def tree_pids(pid):
    pids = [pid]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    pids.append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    return pids


def rss_kib(pid):
    """Resident memory of a server: the sum over its process and its children."""
    total = 0
    for p in tree_pids(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def run(argv, seconds, **kwargs):
    """Runs a load tool, bounded; its output (stdout, stderr) whatever happens."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds, **kwargs)
        return done.returncode, done.stdout, done.stderr
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        return -1, out, f"timed out after {seconds} s"


class Bench:
    def __init__(self, args):
        self.args = args
        self.work = tempfile.mkdtemp(prefix="ferry-compare.")
        os.chmod(self.work, 0o755)  # nginx's workers run as nobody
        self.logs = os.path.join(self.work, "logs")
        os.makedirs(self.logs)
        self.procs = Processes(self.logs)
        self.results = {}  # (column, metric) -> [value per repetition]
        self.notes = []
        self.ports = {}
        bindir = os.path.join(ROOT, "build", args.preset, "bin")
        self.ferryd = os.path.join(bindir, "ferryd")
        self.ferry = os.path.join(bindir, "ferry")
        self.shared = args.shared

    # ------------------------------------------------------------------ recording
    def record(self, column, metric, rep, value):
        if value is None:
            return
        self.results.setdefault((column, metric), {})[rep] = value
        log(f"  {column} {metric} rep{rep} = {value:,.2f}")

    def error(self, column, metric, message):
        log(f"  {column} {metric}: FAILED: {message}")
        self.notes.append(f"{column} {metric}: {message}")

    # ------------------------------------------------------------------ setup
    def make_files(self):
        a = self.args
        tree = os.path.join(self.work, "tree")
        os.makedirs(os.path.join(tree, "many"))
        log(f"files: small.bin 4 KiB, big.bin {a.big_mib} MiB, many/ {a.many} x 64 KiB")
        with open(os.path.join(tree, "small.bin"), "wb") as f:
            f.write(os.urandom(4096))
        with open(os.path.join(tree, "big.bin"), "wb") as f:
            block = os.urandom(1 << 20)
            for _ in range(a.big_mib):
                f.write(block)
        for i in range(a.many):
            with open(os.path.join(tree, "many", f"{i:06}"), "wb") as f:
                f.write(os.urandom(65536))
        # Each server gets its own folder of hard links to the same files.
        for folder in ["ferryd-data", "nginx-root", "seed-data"]:
            shutil.copytree(tree, os.path.join(self.work, folder), copy_function=os.link)
        for folder in ["ferryd-cache", "seed-cache", "nginx-root/upload", "nginx-tmp"]:
            os.makedirs(os.path.join(self.work, folder), exist_ok=True)
        for folder in ["nginx-root/upload", "nginx-tmp"]:
            os.chmod(os.path.join(self.work, folder), 0o777)
        self.tree = tree
        self.big = os.path.join(tree, "big.bin")

    def start_ferryd(self, name="ferryd", data="ferryd-data", cache="ferryd-cache", extra=()):
        native, http = free_port(), free_port()
        os.makedirs(os.path.join(self.work, cache), exist_ok=True)
        proc = self.procs.start(name, [
            self.ferryd, "--listen", f"127.0.0.1:{native}", "--http-listen", f"127.0.0.1:{http}",
            "--data", os.path.join(self.work, data), "--cache", os.path.join(self.work, cache),
            "--log-level", "warn", "--max-connections-per-ip", "0", "--max-connections", "30000",
            # As nginx runs here (access_log off): a line per request is a write(2) per request.
            "--access-log", "off", *extra])
        wait_listen(native, proc)
        wait_listen(http, proc)
        return proc, native, http

    def start_nginx(self, name="nginx"):
        port = free_port()
        w = self.work
        conf = os.path.join(w, name + ".conf")
        with open(conf, "w") as f:
            f.write(f"""
worker_processes auto;
worker_rlimit_nofile 65536;
daemon off;
pid {w}/{name}.pid;
error_log {w}/logs/nginx-error.log warn;
events {{ worker_connections 32768; }}
http {{
  access_log off;
  sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_timeout 300s; keepalive_requests 100000000;
  open_file_cache max=20000 inactive=120s; open_file_cache_valid 120s;
  client_body_temp_path {w}/nginx-tmp/body; proxy_temp_path {w}/nginx-tmp/proxy;
  fastcgi_temp_path {w}/nginx-tmp/fastcgi; uwsgi_temp_path {w}/nginx-tmp/uwsgi;
  scgi_temp_path {w}/nginx-tmp/scgi;
  client_max_body_size 0;
  types {{ }} default_type application/octet-stream;
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    root {w}/nginx-root;
    location /upload/ {{ dav_methods PUT; create_full_put_path on; }}
  }}
}}
""")
        proc = self.procs.start(name, [self.args.nginx, "-c", conf, "-e", f"{w}/logs/nginx-error.log"])
        wait_listen(port, proc)
        return proc, port

    def start_seed(self):
        port = free_port()
        proc = self.procs.start("seed", [
            "python3", os.path.join(self.shared, "bench", "seed_server.py"), "--port", str(port),
            "--data", os.path.join(self.work, "seed-data"), "--cache", os.path.join(self.work, "seed-cache")])
        wait_listen(port, proc)
        return proc, port

    # ------------------------------------------------------------------ load tools
    def ferry_bench(self, port, *flags, seconds=None):
        """ferry bench --json; the parsed report, or None (the failure is noted)."""
        limit = (seconds or self.args.seconds) + 120
        argv = [self.ferry, "--server", f"127.0.0.1:{port}", "bench", "--json", *flags]
        code, out, err = run(argv, limit)
        try:
            report = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            return None, f"exit {code}: {err.strip()[-300:]}"
        if report["errors"] or report["verify_failures"]:
            return None, f"{report['errors']} errors: {report['error_samples']}"
        return report, None

    def wrk(self, url, connections):
        s = self.args.seconds
        code, out, err = run(["wrk", "-t1", f"-c{connections}", f"-d{s}s", "--latency", "--timeout", "5s", url], s + 60)
        rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
        p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\b", out, re.M)
        bad = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: .*", out)
        if code != 0 or rps is None or bad:
            return None, None, f"exit {code}: {(out + err).strip()[-300:]}"
        scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[p99.group(2)] if p99 else None
        return float(rps.group(1)), float(p99.group(1)) * scale if p99 else None, None

    def oneshot_loader(self):
        path = os.path.join(self.work, "oneshot_load")
        source = os.path.join(self.shared, "bench", "oneshot_load.c")
        subprocess.run(["cc", "-O2", "-o", path, source], check=True)
        return path

    # ------------------------------------------------------------------ scenarios
    def get4k(self, rep, order):
        s = self.args.seconds
        for column in order:
            if column == "ferryd-native":
                r, err = self.ferry_bench(self.ports["ferryd"], "-c", "64", "-t", "1", "-d", f"{s}s",
                                          "--name", "small.bin")
                if r:
                    self.record(column, "get4k_rps", rep, r["requests_per_second"])
                    self.record(column, "get4k_p99_ms", rep, r["latency_ms"]["p99"])
                else:
                    self.error(column, "get4k", err)
            elif column in ("ferryd-http", "nginx"):
                url = (f"http://127.0.0.1:{self.ports['ferryd-http']}/files/small.bin" if column == "ferryd-http"
                       else f"http://127.0.0.1:{self.ports['nginx']}/small.bin")
                rps, p99, err = self.wrk(url, 64)
                if err:
                    self.error(column, "get4k", err)
                else:
                    self.record(column, "get4k_rps", rep, rps)
                    self.record(column, "get4k_p99_ms", rep, p99)
            elif column == "seed":
                code, out, err = run([self.loader, "-p", str(self.ports["seed"]), "-c", "64", "-d", str(s),
                                      "-T", str(s + 30), "-f", "small.bin", "-x", "4096"], s + 60)
                fields = dict(kv.split("=", 1) for kv in out.split() if "=" in kv)
                if "rps" in fields:
                    self.record(column, "get4k_rps", rep, float(fields["rps"]))
                    self.record(column, "get4k_p99_ms", rep, float(fields["p99_ms"]))
                else:
                    self.error(column, "get4k", f"exit {code}: {err.strip()[-200:]}")

    def half_load_p99(self, rep, order):
        """p99 of 4 KiB GETs paced at half of each server's own peak rate of this repetition."""
        s = self.args.seconds
        for column in order:
            if column == "seed":
                continue
            peak = self.results.get((column, "get4k_rps"), {}).get(rep)
            if not peak:
                continue
            flags = ["-c", "64", "-t", "1", "-d", f"{s}s", "--rate", f"{peak / 2:.0f}", "--name", "small.bin"]
            if column == "ferryd-native":
                port = self.ports["ferryd"]
            elif column == "ferryd-http":
                port, flags = self.ports["ferryd-http"], flags + ["--http", "--http-path", "/files/"]
            else:
                port, flags = self.ports["nginx"], flags + ["--http", "--http-path", "/"]
            r, err = self.ferry_bench(port, *flags)
            if r:
                self.record(column, "half_p99_ms", rep, r["latency_ms"]["p99"])
            else:
                self.error(column, "half_p99", err)

    def get1g(self, rep, order):
        for column in order:
            flags = ["-c", "1", "-n", "1", "--name", "big.bin", "--read-size", "1M", "--verify-every", "1",
                     "--verify-dir", self.tree]
            if column == "ferryd-native":
                port = self.ports["ferryd"]
            elif column == "ferryd-http":
                port, flags = self.ports["ferryd-http"], flags + ["--http", "--http-path", "/files/"]
            elif column == "nginx":
                port, flags = self.ports["nginx"], flags + ["--http", "--http-path", "/"]
            else:
                continue
            r, err = self.ferry_bench(port, *flags, seconds=300)
            if r:
                self.record(column, "get1g_MBps", rep, r["mb_per_second"])
            else:
                self.error(column, "get1g", err)

    def put1g(self, rep, order):
        size = self.args.big_mib << 20
        for column in order:
            if column == "ferryd-native":
                r, err = self.ferry_bench(self.ports["ferryd"], "-c", "1", "-n", "1", "--mix", "put", "--size",
                                          str(size), "--name", f"put-{rep}.bin", seconds=300)
                if r:
                    self.record(column, "put1g_MBps", rep, r["mb_per_second"])
                else:
                    self.error(column, "put1g", err)
                stored = os.path.join(self.work, "ferryd-data", f"put-{rep}.bin")
                if os.path.exists(stored):
                    os.unlink(stored)
                continue
            if column == "ferryd-http":
                url, stored = (f"http://127.0.0.1:{self.ports['ferryd-http']}/files/put-{rep}.bin",
                               os.path.join(self.work, "ferryd-data", f"put-{rep}.bin"))
            elif column == "nginx":
                url, stored = (f"http://127.0.0.1:{self.ports['nginx']}/upload/put-{rep}.bin",
                               os.path.join(self.work, "nginx-root", "upload", f"put-{rep}.bin"))
            else:
                continue
            code, out, err = run(["curl", "-sS", "-o", "/dev/null", "--max-time", "300", "-T", self.big,
                                  "-w", "%{http_code} %{size_upload} %{time_total}", url], 320)
            fields = out.split()
            if code == 0 and len(fields) == 3 and fields[0] in ("200", "201", "204") and int(fields[1]) == size:
                self.record(column, "put1g_MBps", rep, size / float(fields[2]) / 1e6)
            else:
                self.error(column, "put1g", f"curl exit {code}: {out} {err.strip()[-200:]}")
            if os.path.exists(stored):
                os.unlink(stored)

    def idle(self, order):
        """Server memory per idle keep-alive connection: N connections that made one request each.

        Each server (each ferryd door) is started afresh for it, so memory that earlier loads
        left in its allocator does not hide what the connections cost."""
        n = self.args.idle
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        for column in order:
            if column == "seed":
                continue
            if column == "nginx":
                proc, port = self.start_nginx(name="nginx-idle")
                request = b"GET /small.bin HTTP/1.1\r\nHost: x\r\n\r\n"
            else:
                proc, native, http = self.start_ferryd(name=f"{column}-idle", cache=f"{column}-idle-cache")
                if column == "ferryd-native":
                    port, request = native, b"GET small.bin\n"
                else:
                    port, request = http, b"GET /files/small.bin HTTP/1.1\r\nHost: x\r\n\r\n"
            warm, _ = open_idle(port, request, 16, timeout=10)  # the server's first requests
            for sock in warm:
                sock.close()
            time.sleep(1)
            before = rss_kib(proc.pid)
            sockets, ok = open_idle(port, request, n, timeout=60)
            time.sleep(2)
            during = rss_kib(proc.pid)
            for sock in sockets:
                sock.close()
            self.procs.stop(f"{column}-idle" if column != "nginx" else "nginx-idle")
            if ok < n:
                self.error(column, "idle", f"only {ok} of {n} connections completed their request")
            if ok > 0:
                self.record(column, "idle_kib_per_conn", 0, (during - before) / ok)

    def cache_miss(self, rep):
        """Zipf(0.9) over the many/ files: ferryd with its cache vs ferryd without one."""
        s = self.args.seconds
        for column, port in (("ferryd-cache", self.ports["ferryd"]), ("ferryd-nocache", self.ports["nocache"])):
            r, err = self.ferry_bench(port, "-c", "16", "-t", "1", "-d", f"{s}s", "--keys", str(self.args.many),
                                      "--prefix", "many/", "--zipf", "0.9")
            if r:
                self.record(column, "zipf_rps", rep, r["requests_per_second"])
                self.record(column, "zipf_p99_ms", rep, r["latency_ms"]["p99"])
            else:
                self.error(column, "zipf", err)

    def limits(self, rep):
        port = free_port()
        server = self.procs.start("iperf3", ["iperf3", "-s", "-B", "127.0.0.1", "-p", str(port)])
        try:
            time.sleep(0.5)
            code, out, err = run(["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", "5", "-J"], 60)
            try:
                bps = json.loads(out)["end"]["sum_received"]["bits_per_second"]
                self.record("limit", "tcp_MBps", rep, bps / 8 / 1e6)
            except (ValueError, KeyError):
                self.error("limit", "tcp", err.strip()[-200:])
        finally:
            self.procs.stop("iperf3")
        target = os.path.join(self.work, "dd.bin")
        code, out, err = run(["dd", "if=/dev/zero", f"of={target}", "bs=1M", f"count={self.args.big_mib}",
                              "conv=fsync"], 300)
        m = re.search(r"copied, ([\d.]+) s", err)
        if m:
            self.record("limit", "fsync_write_MBps", rep, (self.args.big_mib << 20) / float(m.group(1)) / 1e6)
        os.unlink(target)

    # ------------------------------------------------------------------ the run
    def main(self):
        a = self.args
        self.make_files()
        self.loader = self.oneshot_loader()
        _, self.ports["ferryd"], self.ports["ferryd-http"] = self.start_ferryd()
        _, self.ports["nocache"], _ = self.start_ferryd(
            name="ferryd-nocache", cache="ferryd-nocache-cache", extra=["--cache-max-bytes", "0", "--memory-cache-max-bytes", "0"])
        _, self.ports["nginx"] = self.start_nginx()
        _, self.ports["seed"] = self.start_seed()
        # Warm: every server has read every file once (checksums computed, caches filled).
        for port in (self.ports["ferryd"], self.ports["nocache"]):
            self.ferry_bench(port, "-c", "4", "-n", str(a.many), "--keys", str(a.many), "--prefix", "many/",
                             "--sequential", "--verify-every", "0")
        for port in (self.ports["ferryd"], self.ports["nocache"]):
            self.ferry_bench(port, "-c", "1", "-n", "4", "--name", "small.bin", "--name", "big.bin")
        columns = [c for c in SERVERS if c in a.servers]
        for rep in range(a.repeat):
            order = columns if rep % 2 == 0 else list(reversed(columns))
            log(f"repetition {rep + 1} of {a.repeat}, order {order}")
            if "limits" in a.scenarios:
                self.limits(rep)
            if "get4k" in a.scenarios:
                self.get4k(rep, order)
            if "half" in a.scenarios:
                self.half_load_p99(rep, order)
            if "get1g" in a.scenarios:
                self.get1g(rep, order)
            if "put1g" in a.scenarios:
                self.put1g(rep, order)
            if "zipf" in a.scenarios:
                self.cache_miss(rep)
        if "idle" in a.scenarios:
            self.idle(columns)
        return self.report()

    # ------------------------------------------------------------------ report
    def cell(self, column, metric, digits):
        values = list(self.results.get((column, metric), {}).values())
        if not values:
            return "–"
        med = statistics.median(values)
        text = f"{med:,.{digits}f}"
        if len(values) > 1:
            text += f" ({min(values):,.{digits}f}–{max(values):,.{digits}f})"
        return text

    def ratio(self, top, bottom, higher_is_better=True):
        """Median of per-repetition ratios (each pair measured back to back)."""
        a, b = self.results.get(top, {}), self.results.get(bottom, {})
        reps = [r for r in a if r in b and b[r]]
        if not reps:
            # Idle memory and the limits are measured once or separately: ratio of medians.
            if a and b and statistics.median(b.values()):
                return statistics.median(a.values()) / statistics.median(b.values())
            return None
        return statistics.median(a[r] / b[r] for r in reps)

    def report(self):
        a = self.args
        rows = [
            ("4 KiB GET, keep-alive, 64 connections: HTTP wrk -t1, native ferry bench -t1, seed one per connection",
             "req/s", "get4k_rps", 0),
            ("  p99 latency of the above", "ms", "get4k_p99_ms", 2),
            ("4 KiB GET p99 at 50% of the server's own peak (ferry bench --rate, 64 connections)", "ms",
             "half_p99_ms", 2),
            (f"{a.big_mib} MiB GET, 1 connection (ferry bench, 1 MiB reads, body verified)", "MB/s",
             "get1g_MBps", 0),
            (f"{a.big_mib} MiB PUT, 1 connection (native: ferry bench; HTTP: curl -T)", "MB/s", "put1g_MBps", 0),
            (f"idle keep-alive connection, {a.idle:,} held open: server RSS per connection", "KiB",
             "idle_kib_per_conn", 1),
        ]
        lines = []
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        cores = os.cpu_count()
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        nginx_version = subprocess.run([a.nginx, "-v"], capture_output=True, text=True).stderr.strip()
        commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip() or "?"
        lines.append(f"- date: {now}; ferryd at {commit}; machine: {cores} cores, {mem:.0f} GiB, "
                     f"{platform.platform()}")
        lines.append(f"- {nginx_version}; repetitions: {a.repeat}; loads of {a.seconds} s; "
                     f"cells are median (min–max)")
        lines.append(f"- command: `bench/compare.sh {' '.join(sys.argv[1:])}`".replace("  ", " "))
        lines.append("")
        lines.append("| scenario | unit | " + " | ".join(SERVERS) + " |")
        lines.append("|---|---|" + "---|" * len(SERVERS))
        for title, unit, metric, digits in rows:
            lines.append(f"| {title} | {unit} | " + " | ".join(self.cell(c, metric, digits) for c in SERVERS) + " |")
        lines.append("")
        lines.append("| limit | MB/s |")
        lines.append("|---|---|")
        lines.append(f"| loopback TCP, one stream (iperf3 -t 5) | {self.cell('limit', 'tcp_MBps', 0)} |")
        lines.append(f"| disk write, fsync'd (dd bs=1M conv=fsync) | {self.cell('limit', 'fsync_write_MBps', 0)} |")
        lines.append("")
        lines.append("| Zipf(0.9) over "
                     f"{a.many:,} files of 64 KiB, 16 connections | req/s | p99 ms |")
        lines.append("|---|---|---|")
        for column, label in (("ferryd-cache", "ferryd with its cache"),
                              ("ferryd-nocache", "ferryd, --cache-max-bytes 0 --memory-cache-max-bytes 0")):
            lines.append(f"| {label} | {self.cell(column, 'zipf_rps', 0)} | {self.cell(column, 'zipf_p99_ms', 2)} |")
        lines.append("")
        targets = [
            ("4 KiB GET rate, ferryd-http ÷ nginx", ("ferryd-http", "get4k_rps"), ("nginx", "get4k_rps"), ">= 1.2"),
            ("4 KiB GET rate, ferryd-native ÷ nginx", ("ferryd-native", "get4k_rps"), ("nginx", "get4k_rps"), ">= 1.5"),
            ("1 GiB GET, ferryd-native ÷ loopback TCP", ("ferryd-native", "get1g_MBps"), ("limit", "tcp_MBps"), ">= 0.9"),
            ("1 GiB GET, ferryd-http ÷ loopback TCP", ("ferryd-http", "get1g_MBps"), ("limit", "tcp_MBps"), ">= 0.9"),
            ("1 GiB GET, ferryd-native ÷ nginx", ("ferryd-native", "get1g_MBps"), ("nginx", "get1g_MBps"), ">= 1"),
            ("1 GiB GET, ferryd-http ÷ nginx", ("ferryd-http", "get1g_MBps"), ("nginx", "get1g_MBps"), ">= 1"),
            ("1 GiB PUT, ferryd-native ÷ fsync'd disk write", ("ferryd-native", "put1g_MBps"),
             ("limit", "fsync_write_MBps"), ">= 0.8"),
            ("1 GiB PUT, ferryd-http ÷ nginx dav", ("ferryd-http", "put1g_MBps"), ("nginx", "put1g_MBps"), ">= 1"),
            ("1 GiB PUT, ferryd-native ÷ nginx dav", ("ferryd-native", "put1g_MBps"), ("nginx", "put1g_MBps"), ">= 1"),
            ("idle connection RSS, ferryd-native ÷ nginx", ("ferryd-native", "idle_kib_per_conn"),
             ("nginx", "idle_kib_per_conn"), "<= 1"),
            ("idle connection RSS, ferryd-http ÷ nginx", ("ferryd-http", "idle_kib_per_conn"),
             ("nginx", "idle_kib_per_conn"), "<= 1"),
            ("p99 at half load, ferryd-http ÷ nginx", ("ferryd-http", "half_p99_ms"), ("nginx", "half_p99_ms"), "<= 1"),
            ("p99 at half load, ferryd-native ÷ nginx", ("ferryd-native", "half_p99_ms"), ("nginx", "half_p99_ms"),
             "<= 1"),
            ("Zipf(0.9) rate, with cache ÷ without", ("ferryd-cache", "zipf_rps"), ("ferryd-nocache", "zipf_rps"), "–"),
        ]
        lines.append("| ratio | target | measured | met |")
        lines.append("|---|---|---|---|")
        for title, top, bottom, target in targets:
            r = self.ratio(top, bottom)
            if r is None:
                lines.append(f"| {title} | {target} | – | – |")
                continue
            met = "–"
            if target.startswith(">="):
                met = "yes" if r >= float(target[3:]) else "no"
            elif target.startswith("<="):
                met = "yes" if r <= float(target[3:]) else "no"
            lines.append(f"| {title} | {target} | {r:.2f}x | {met} |")
        if self.notes:
            lines.append("")
            lines.append("Failures during the run:")
            lines.extend(f"- {n}" for n in self.notes)
        lines.append("")
        lines.append("<details><summary>raw values by repetition</summary>")
        lines.append("")
        lines.append("```")
        for (column, metric), values in sorted(self.results.items()):
            lines.append(f"{column:15} {metric:20} " + " ".join(f"{values[r]:.2f}" for r in sorted(values)))
        lines.append("```")
        lines.append("</details>")
        return "\n".join(lines) + "\n"


def open_idle(port, request, n, timeout):
    """Opens n connections, makes `request` on each and reads its reply; returns them held open."""
    sel = selectors.DefaultSelector()
    sockets, done = [], 0
    deadline = time.monotonic() + timeout
    pending = {}
    started = 0
    while (started < n or pending) and time.monotonic() < deadline:
        while started < n and len(pending) < 256:
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            sel.register(s, selectors.EVENT_WRITE)
            pending[s] = b""
            sockets.append(s)
            started += 1
        for key, events in sel.select(timeout=1):
            s = key.fileobj
            if events & selectors.EVENT_WRITE:
                try:
                    s.send(request)
                except OSError:
                    sel.unregister(s)
                    del pending[s]
                    continue
                sel.modify(s, selectors.EVENT_READ)
                continue
            try:
                chunk = s.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                sel.unregister(s)
                del pending[s]
                continue
            pending[s] += chunk
            if len(pending[s]) >= 4096 and (b"\r\n\r\n" in pending[s] or pending[s].startswith(b"OK")):
                sel.unregister(s)
                del pending[s]
                done += 1
    sel.close()
    return sockets, done


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--seconds", type=int, default=10, help="length of each timed load")
    p.add_argument("--big-mib", type=int, default=1024)
    p.add_argument("--many", type=int, default=10000, help="files of 64 KiB for the Zipf workload")
    p.add_argument("--idle", type=int, default=10000, help="idle connections held open")
    p.add_argument("--servers", default=" ".join(SERVERS))
    p.add_argument("--scenarios", default="limits get4k half get1g put1g zipf idle")
    p.add_argument("--quick", action="store_true", help="a smoke test: 1 repetition, 2 s, 64 MiB, 1,000 of each")
    p.add_argument("--preset", default="release")
    p.add_argument("--shared", default=os.path.join(os.path.dirname(ROOT), "shared"),
                   help="the shared folder (bench/seed_server.py, bench/oneshot_load.c)")
    p.add_argument("--nginx", default="nginx")
    p.add_argument("--out", help="write the report here (else stdout)")
    p.add_argument("--docs", action="store_true", help="also put the report into docs/performance.md")
    p.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    a = p.parse_args()
    if a.quick:
        a.repeat, a.seconds, a.big_mib, a.many, a.idle = 1, 2, 64, 1000, 1000
    bench = Bench(a)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    try:
        text = bench.main()
    finally:
        bench.procs.stop_all()
        if a.keep:
            log(f"work folder kept: {bench.work}")
        else:
            shutil.rmtree(bench.work, ignore_errors=True)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    if a.docs:
        path = os.path.join(ROOT, "docs", "performance.md")
        with open(path) as f:
            doc = f.read()
        begin, end = doc.index(DOC_BEGIN) + len(DOC_BEGIN), doc.index(DOC_END)
        with open(path, "w") as f:
            f.write(doc[:begin] + "\n" + text + doc[end:])
        log(f"updated {path}")


if __name__ == "__main__":
    main()
