#!/usr/bin/env python3
"""Does an idle `serve` cost the engine anything? Alternates `bench` alone and `bench` beside an idle
`sparsevit serve` (loopback, seeded weights, started 3 s before) N times and prints the medians.

    python3 scripts/idle_serve_bench.py 6 [BINARY]      # default .build/release/sparsevit
"""
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from ab_bench import bench_medians

ARGS = ["--sizes", "672", "--sparsity", "dense,0.6", "--iterations", "3", "--warmup", "1"]


def beside_idle_server(binary):
    """bench_medians while an idle server (up for 3 s) listens on loopback."""
    with tempfile.NamedTemporaryFile("w+") as log:
        server = subprocess.Popen([binary, "serve", "--port", "0", "--size", "672", "--quiet"], stderr=log)
        try:
            for _ in range(300):
                log.seek(0)
                if "http://127.0.0.1" in log.read():
                    break
                time.sleep(0.2)
            time.sleep(3)
            return bench_medians(binary, ARGS)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait()


def main():
    if len(sys.argv) < 2 or not sys.argv[1].isdigit():
        sys.exit(__doc__)
    n = int(sys.argv[1]); binary = sys.argv[2] if len(sys.argv) > 2 else ".build/release/sparsevit"
    res = {"alone": {}, "idle server": {}}
    for i in range(n):
        for arm in (["alone", "idle server"] if i % 2 == 0 else ["idle server", "alone"]):
            if arm == "alone":
                time.sleep(3)
                run = bench_medians(binary, ARGS)
            else:
                run = beside_idle_server(binary)
            for k, v in run.items():
                res[arm].setdefault(k, []).append(v)
    for arm, r in res.items():
        print(arm, "  ".join("%s %.1f ms" % (k, statistics.median(v)) for k, v in r.items()),
              " (speedup %.2fx)" % (statistics.median(r["dense"]) / statistics.median(r["uniform 0.6"])))


if __name__ == "__main__":
    main()
