#!/usr/bin/env python3
"""Does an idle `serve` cost the engine anything? Alternates `bench` alone and `bench` beside an idle
`sparsevit serve` (loopback, seeded weights, started 3 s before) N times and prints the medians.

    python3 scripts/idle_serve_bench.py 6 [BINARY]      # default .build/release/sparsevit
"""
import subprocess, sys, re, statistics, time, os, signal
if len(sys.argv) < 2 or not sys.argv[1].isdigit():
    sys.exit(__doc__)
n = int(sys.argv[1]); binary = sys.argv[2] if len(sys.argv) > 2 else ".build/release/sparsevit"
log_path = "/tmp/idle-serve.log"
args = ["bench", "--sizes", "672", "--sparsity", "dense,0.6", "--iterations", "3", "--warmup", "1"]
res = {"alone": {}, "idle server": {}}
def bench(arm):
    out = subprocess.run([binary] + args, capture_output=True, text=True).stdout
    run = {}
    for line in out.splitlines():
        m = re.match(r"^(dense|uniform [0-9.]+)\s+([0-9.]+)", line)
        if m: run[m.group(1)] = float(m.group(2))
    for k, v in run.items(): res[arm].setdefault(k, []).append(v)
for i in range(n):
    for arm in (["alone", "idle server"] if i % 2 == 0 else ["idle server", "alone"]):
        if arm == "alone":
            time.sleep(3); bench(arm); continue
        log = open(log_path, "w")
        server = subprocess.Popen([binary, "serve", "--port", "0", "--size", "672", "--quiet"], stderr=log)
        for _ in range(300):
            if "http://127.0.0.1" in open(log_path).read(): break
            time.sleep(0.2)
        try:
            time.sleep(3)
            bench(arm)
        finally:
            server.send_signal(signal.SIGTERM); server.wait()
for arm, r in res.items():
    print(arm, "  ".join("%s %.1f ms" % (k, statistics.median(v)) for k, v in r.items()),
          " (speedup %.2fx)" % (statistics.median(r["dense"]) / statistics.median(r["uniform 0.6"])))
