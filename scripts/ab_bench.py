#!/usr/bin/env python3
"""A/B timing on a noisy machine: runs `BIN bench ARGS` for each binary, N times, in rotating order,
and prints per binary the median over runs of each configuration's median and the median of the
per-run ratios configuration / dense (the figure to quote when the host's speed drifts); then, for
each binary after the first, the median over rounds of its time / the first binary's time in the
same round (runs next to each other see the same host), and in how many rounds it was faster.

    python3 scripts/ab_bench.py 6 /tmp/sv-a /tmp/sv-b -- --sizes 672 --sparsity dense,0.6 --iterations 3

AB_STAT=min takes each run's fastest iteration instead of its median (steadier when the host's
speed swings within a run).
"""
import os
import re
import statistics
import subprocess
import sys


def bench_medians(binary, args):
    """`binary bench args`: the median ms of each configuration row of its table."""
    out = subprocess.run([binary, "bench"] + args, capture_output=True, text=True).stdout
    run = {}
    for line in out.splitlines():
        m = re.match(r"^(dense|uniform [0-9.]+|cfg\S+)\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)", line)
        if m:
            run[m.group(1)] = float(m.group(5) if os.environ.get("AB_STAT") == "min" else m.group(2))
    return run


def main():
    if len(sys.argv) < 4 or "--" not in sys.argv or not sys.argv[1].isdigit():
        sys.exit(__doc__)
    n = int(sys.argv[1]); sep = sys.argv.index("--"); bins = sys.argv[2:sep]; args = sys.argv[sep + 1:]
    res = {b: {} for b in bins}; ratios = {b: {} for b in bins}; rounds = []
    for i in range(n):
        rounds.append({})
        for b in bins[i % len(bins):] + bins[:i % len(bins)]:
            run = bench_medians(b, args)
            rounds[-1][b] = run
            for k, v in run.items():
                res[b].setdefault(k, []).append(v)
                if "dense" in run:
                    ratios[b].setdefault(k, []).append(v / run["dense"])
    for b in bins:
        meds = {k: statistics.median(v) for k, v in res[b].items()}
        print(b, "  ".join("%s %.1f ms (x%.3f)" % (k, v, statistics.median(ratios[b][k])) for k, v in meds.items()),
              flush=True)
    base = bins[0]
    for b in bins[1:]:
        for k in res[base]:
            paired = [r[b][k] / r[base][k] for r in rounds if k in r[b] and k in r[base]]
            if paired:
                print("%s / %s, %s: paired median x%.3f, faster in %d of %d rounds" % (
                    b, base, k, statistics.median(paired), sum(p < 1 for p in paired), len(paired)))


if __name__ == "__main__":
    main()
