#!/usr/bin/env python3
"""A/B timing on a noisy machine: runs `BIN bench ARGS` for each binary, N times, in rotating order,
and prints per binary the median over runs of each configuration's median and the median of the
per-run ratios configuration / dense (the figure to quote when the host's speed drifts).

    python3 scripts/ab_bench.py 6 /tmp/sv-a /tmp/sv-b -- --sizes 672 --sparsity dense,0.6 --iterations 3
"""
import re
import statistics
import subprocess
import sys


def bench_medians(binary, args):
    """`binary bench args`: the median ms of each configuration row of its table."""
    out = subprocess.run([binary, "bench"] + args, capture_output=True, text=True).stdout
    run = {}
    for line in out.splitlines():
        m = re.match(r"^(dense|uniform [0-9.]+|cfg\S+)\s+([0-9.]+)", line)
        if m:
            run[m.group(1)] = float(m.group(2))
    return run


def main():
    if len(sys.argv) < 4 or "--" not in sys.argv or not sys.argv[1].isdigit():
        sys.exit(__doc__)
    n = int(sys.argv[1]); sep = sys.argv.index("--"); bins = sys.argv[2:sep]; args = sys.argv[sep + 1:]
    res = {b: {} for b in bins}; ratios = {b: {} for b in bins}
    for i in range(n):
        for b in bins[i % len(bins):] + bins[:i % len(bins)]:
            run = bench_medians(b, args)
            for k, v in run.items():
                res[b].setdefault(k, []).append(v)
                if "dense" in run:
                    ratios[b].setdefault(k, []).append(v / run["dense"])
    for b in bins:
        meds = {k: statistics.median(v) for k, v in res[b].items()}
        print(b, "  ".join("%s %.1f ms (x%.3f)" % (k, v, statistics.median(ratios[b][k])) for k, v in meds.items()),
              flush=True)


if __name__ == "__main__":
    main()
