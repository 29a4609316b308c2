#!/usr/bin/env python3
"""A fixed Zipf request sequence over HTTP keep-alive connections, for bench/cluster.sh.

  zipf_client.py put --url http://HOST:PORT [--files 2000 --size 65536 --prefix zipf/]
  zipf_client.py get --url http://HOST:PORT --requests 20000 [--seed 2 --alpha 0.9]
                     [--connections 8] [--metrics http://NODE1 http://NODE2 ...]

`get` prints one JSON object: requests, errors, seconds, requests/s, latency percentiles, the
X-Cache HITs the replies reported, and with --metrics the change of each node's /metrics
counters over the run (summed, and per node). The sequence depends only on --seed, --alpha and
--files, so every configuration measured gets the same requests; request i goes out on
connection i % connections, so each connection's own order is fixed too.
"""
import argparse
import bisect
import http.client
import json
import os
import random
import sys
import threading
import time
import urllib.parse

# Counters read from each node's /metrics before and after a run.
COUNTERS = [
    "ferry_cache_hits_total",
    "ferry_cache_misses_total",
    "ferry_store_get_requests_total",
    "ferry_store_head_requests_total",
    "ferry_store_list_requests_total",
    "ferry_store_put_requests_total",
    "ferry_store_get_bytes_received_total",
]
GET_REQUESTS = 'ferry_requests_total{door="http",command="get",status="2xx"}'


def file_name(prefix, index):
    return f"{prefix}{index:05d}"


def zipf_sequence(files, alpha, seed, count):
    """`count` file indexes; rank r is drawn with weight 1/r^alpha. Ranks go to files through a
    seeded permutation, so popularity is not tied to the order of the names."""
    rng = random.Random(seed)
    weights = [1.0 / (rank ** alpha) for rank in range(1, files + 1)]
    cumulative, total = [], 0.0
    for weight in weights:
        total += weight
        cumulative.append(total)
    file_of_rank = list(range(files))
    random.Random(f"ranks-{files}").shuffle(file_of_rank)  # the same for every seed
    return [file_of_rank[min(bisect.bisect_left(cumulative, rng.random() * total), files - 1)]
            for _ in range(count)]


def scrape(url):
    """The counters of one node's /metrics (missing ones as 0)."""
    parsed = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
    connection.request("GET", "/metrics")
    reply = connection.getresponse()
    text = reply.read().decode()
    connection.close()
    values = {name: 0 for name in COUNTERS + [GET_REQUESTS]}
    for line in text.splitlines():
        name, _, value = line.rpartition(" ")
        if name in values:
            values[name] = int(float(value))
    return values


class Connection:
    """One keep-alive connection; reopened once if the server or a proxy closed it between requests."""

    def __init__(self, url):
        parsed = urllib.parse.urlsplit(url)
        self.host, self.port = parsed.hostname, parsed.port
        self.connection = None

    def request(self, method, path, body=None):
        for attempt in range(2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
            try:
                self.connection.request(method, path, body=body)
                reply = self.connection.getresponse()
                data = reply.read()
                if reply.will_close:
                    self.close()
                return reply, data
            except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine):
                self.close()
                if attempt == 1:
                    raise

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def run_parallel(count, connections, url, work):
    """Calls work(connection, i) for i in range(count), request i on connection i % connections."""
    failures = []

    def loop(k):
        connection = Connection(url)
        try:
            for i in range(k, count, connections):
                work(connection, i)
        except Exception as error:  # reported, never silently dropped
            failures.append(f"connection {k}: {error!r}")
        finally:
            connection.close()

    threads = [threading.Thread(target=loop, args=(k,)) for k in range(connections)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.monotonic() - started, failures


def put_files(args):
    # Each file's bytes differ (its name, then seeded noise), so no two objects share an ETag.
    noise = random.Random(7).randbytes(args.size)

    def work(connection, i):
        name = file_name(args.prefix, i)
        body = (name.encode() + noise)[:args.size]
        reply, _ = connection.request("PUT", "/files/" + name, body)
        if reply.status not in (200, 201):
            raise RuntimeError(f"PUT {name}: {reply.status}")

    seconds, failures = run_parallel(args.files, args.connections, args.url, work)
    print(json.dumps({"put": args.files, "size": args.size, "seconds": round(seconds, 2),
                      "failures": failures}))
    return 1 if failures else 0


def get_files(args):
    sequence = zipf_sequence(args.files, args.alpha, args.seed, args.requests)
    latencies = [0.0] * args.requests
    outcome = {"errors": 0, "hits": 0}
    lock = threading.Lock()

    def work(connection, i):
        started = time.monotonic()
        reply, data = connection.request("GET", "/files/" + file_name(args.prefix, sequence[i]))
        latencies[i] = time.monotonic() - started
        with lock:
            if reply.status != 200 or len(data) != args.size:
                outcome["errors"] += 1
            elif reply.getheader("X-Cache") == "HIT":
                outcome["hits"] += 1

    before = [scrape(url) for url in args.metrics]
    cpu_before = time.process_time()
    seconds, failures = run_parallel(args.requests, args.connections, args.url, work)
    client_cpu = time.process_time() - cpu_before
    after = [scrape(url) for url in args.metrics]
    done = sorted(latencies)
    report = {
        "requests": args.requests, "connections": args.connections, "seed": args.seed,
        "errors": outcome["errors"], "failures": failures, "seconds": round(seconds, 3),
        "requests_per_second": round(args.requests / seconds, 1),
        "p50_ms": round(1000 * done[len(done) // 2], 2),
        "p99_ms": round(1000 * done[min(len(done) - 1, len(done) * 99 // 100)], 2),
        "x_cache_hits": outcome["hits"], "client_cpu_seconds": round(client_cpu, 2),
    }
    if args.metrics:
        per_node = [{name: a[name] - b[name] for name in a} for a, b in zip(after, before)]
        report["nodes"] = per_node
        report["delta"] = {name: sum(node[name] for node in per_node) for name in per_node[0]}
    print(json.dumps(report))
    return 1 if failures or outcome["errors"] else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["put", "get"])
    parser.add_argument("--url", required=True, help="http://HOST:PORT of the frontend or a node")
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--size", type=int, default=65536, help="bytes per file")
    parser.add_argument("--prefix", default="zipf/")
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--alpha", type=float, default=0.9)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--metrics", nargs="*", default=[], help="http://HOST:PORT of each node")
    args = parser.parse_args()
    return put_files(args) if args.mode == "put" else get_files(args)


if __name__ == "__main__":
    sys.exit(main())
