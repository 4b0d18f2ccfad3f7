#!/usr/bin/env python3
"""Open-loop load generator for `sparsevit serve` (standard library only, loopback only, bounded).

Requests are scheduled at a fixed rate for a fixed time, whether or not earlier ones have finished
(open loop), and each latency is measured from its scheduled time, so a slow server cannot hide its
queue by slowing the client down. Reports throughput, p50/p95/p99, errors by status and the share of
requests served at each pruning level (the response's `sparsity` parameter); with --settle N, sends N
sequential requests after the load to show the level the server returns to.

    python3 scripts/load_test.py --port 8000 --rate 20 --seconds 60 --size 672 [--json out.json]
    python3 scripts/load_test.py --port 8000 --sequential 10 --size 672   # one at a time: median latency
"""
import argparse
import concurrent.futures
import http.client
import json
import random
import struct
import sys
import threading
import time

MAX_SECONDS = 900
MAX_RATE = 2000
MAX_WORKERS = 512


def build_body(size, batch, sparsity):
    rng = random.Random(0)
    count = batch * 3 * size * size
    values = struct.pack("<%df" % count, *(rng.uniform(-2, 2) for _ in range(count)))
    header = {"inputs": [{"name": "images", "datatype": "FP32", "shape": [batch, 3, size, size],
                          "parameters": {"binary_data_size": len(values)}}],
              "outputs": [{"name": "logits", "parameters": {"binary_data": True}}]}
    if sparsity is not None:
        header["parameters"] = {"sparsity": sparsity}
    text = json.dumps(header).encode()
    return text + values, {"Inference-Header-Content-Length": str(len(text)),
                           "Content-Type": "application/octet-stream"}


def one_request(host, port, path, body, headers, timeout):
    """(status, sparsity label or None) of one request on its own connection."""
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        label = None
        if response.status == 200:
            length = int(response.getheader("Inference-Header-Content-Length", len(data)))
            label = json.loads(data[:length]).get("parameters", {}).get("sparsity")
        return response.status, label
    except (OSError, http.client.HTTPException) as error:
        return "error: %s" % type(error).__name__, None
    finally:
        connection.close()


def percentile(sorted_values, fraction):
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, int(round(fraction * (len(sorted_values) - 1)))))
    return sorted_values[index]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="loopback address only (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--model", default="sparsevit")
    parser.add_argument("--rate", type=float, help="requests per second (≤ %d)" % MAX_RATE)
    parser.add_argument("--seconds", type=float, help="duration of the arrivals (≤ %d)" % MAX_SECONDS)
    parser.add_argument("--sequential", type=int, default=0,
                        help="instead: N requests one after another (after one warm-up); prints the median ms")
    parser.add_argument("--size", type=int, default=224, help="image side in pixels (default 224)")
    parser.add_argument("--batch", type=int, default=1, help="images per request (default 1)")
    parser.add_argument("--sparsity", default=None, help="request parameter 'sparsity' (default: the server's policy)")
    parser.add_argument("--workers", type=int, default=256, help="concurrent connections at most (≤ %d)" % MAX_WORKERS)
    parser.add_argument("--timeout", type=float, default=120, help="seconds per request before it counts as an error")
    parser.add_argument("--settle", type=int, default=0, help="sequential requests after the load (level after load)")
    parser.add_argument("--json", default=None, help="also write the report to this file")
    args = parser.parse_args()
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("--host must be a loopback address (this tool never sends traffic off the machine)")
    body, headers = build_body(args.size, args.batch, args.sparsity)
    path = "/v2/models/%s/infer" % args.model
    if args.sequential:
        if not 1 <= args.sequential <= 1000:
            parser.error("--sequential must be in 1…1000")
        times = []
        for index in range(args.sequential + 1):
            began = time.monotonic()
            status, _ = one_request(args.host, args.port, path, body, headers, args.timeout)
            if status != 200:
                print("request failed: %s" % status, file=sys.stderr)
                return 1
            if index > 0:
                times.append((time.monotonic() - began) * 1000)
        times.sort()
        print("%.1f" % times[len(times) // 2])
        return 0
    if args.rate is None or args.seconds is None:
        parser.error("--rate and --seconds are required (or --sequential N)")
    if not 0 < args.rate <= MAX_RATE or not 0 < args.seconds <= MAX_SECONDS:
        parser.error("--rate must be in (0, %d] and --seconds in (0, %d]" % (MAX_RATE, MAX_SECONDS))
    if not 1 <= args.workers <= MAX_WORKERS:
        parser.error("--workers must be in 1…%d" % MAX_WORKERS)

    total = int(args.rate * args.seconds)
    results = []
    lock = threading.Lock()

    def task(scheduled):
        status, label = one_request(args.host, args.port, path, body, headers, args.timeout)
        finished = time.monotonic()
        with lock:
            results.append((scheduled, finished, status, label))

    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.workers) as pool:
        for index in range(total):
            scheduled = start + index / args.rate
            delay = scheduled - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(task, scheduled)
    end = max((finished for _, finished, _, _ in results), default=time.monotonic())

    settle = []
    for _ in range(args.settle):
        time.sleep(1.0)
        status, label = one_request(args.host, args.port, path, body, headers, args.timeout)
        settle.append(label if status == 200 else str(status))

    ok = sorted((finished - scheduled) * 1000 for scheduled, finished, status, _ in results if status == 200)
    errors = {}
    levels = {}
    for _, _, status, label in results:
        if status != 200:
            errors[str(status)] = errors.get(str(status), 0) + 1
        else:
            levels[label] = levels.get(label, 0) + 1
    report = {
        "rate": args.rate, "seconds": args.seconds, "size": args.size, "batch": args.batch,
        "sent": total, "ok": len(ok), "errors": errors,
        "throughput_images_per_s": len(ok) * args.batch / max(end - start, 1e-9),
        "latency_ms": {"p50": percentile(ok, 0.50), "p95": percentile(ok, 0.95), "p99": percentile(ok, 0.99),
                       "max": ok[-1] if ok else float("nan")},
        "level_share": {label: count / max(len(ok), 1) for label, count in sorted(levels.items(), key=str)},
        "settle_levels": settle,
    }
    print("sent %d at %.2f/s for %.0f s: %d ok, errors %s" % (total, args.rate, args.seconds, len(ok), errors or "none"))
    print("throughput %.2f images/s; latency p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms" % (
        report["throughput_images_per_s"], report["latency_ms"]["p50"], report["latency_ms"]["p95"],
        report["latency_ms"]["p99"], report["latency_ms"]["max"]))
    for label, share in report["level_share"].items():
        print("  level %-16s %5.1f%%" % (label, share * 100))
    if settle:
        print("after the load: " + ", ".join(str(level) for level in settle))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=1)
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
