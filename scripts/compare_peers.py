#!/usr/bin/env python3
"""Side-by-side latency of sparsevit and the engines a user would otherwise pick, on this machine.

Runs the same sizes (batch 1, same thread count) through
  - sparsevit:   .build/release/sparsevit bench --json (dense and uniform ratios, interleaved),
  - timm eager:  PyTorch + timm Swin-T, dense,
  - timm + ref:  the reference SparseViT pruning forward (shared/peers/sparsevit_ref.py) at the
                 same uniform ratios (ratio 0 in the dense row),
  - ONNX Runtime and OpenVINO: dense, on an ONNX export of the same timm model; OpenVINO twice,
                 with INFERENCE_PRECISION_HINT=f32 and with its default settings (what a user who
                 just calls compile_model gets: bf16 on CPUs with AVX512_BF16/AMX; the precision it
                 chose is printed),
  - sparsevit again with --precision bf16 where the CPU has AVX512_BF16 (skipped with a note else),
and prints one table: median ms per engine, with its ratio to the best peer of the row.

Each peer runs in its own Python process (its own thread settings), timed like shared/peers/*.py:
warm-up calls, then time.perf_counter around each call, median. Peers whose packages are missing
are skipped with a note. Weights are random everywhere: latency does not depend on their values,
and pruning keeps int(nW * (1 - r)) windows per block whatever the scores. This script itself needs
only the standard library; the peers run under --python (default: the venv scripts/python_env.sh
makes, $PEERS_VENV or ~/.cache/sparsevit-peers).

Example: scripts/compare_peers.py --sizes 224,672 --ratios 0.3,0.6
"""
import argparse
import json
import os
import subprocess
import sys
import statistics
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# One measurement process: argv = mode, size (N or HxW), threads, warmup, iterations, extra...
# Prints one JSON object per line: {"version": ...}, {"engine", "config", "median_ms", "min_ms"},
# {"note": ...} or {"skip": ...} (a package is missing).
WORKER = r'''
import json, statistics, sys, time
mode, size_text, threads, warmup, iterations = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
extra = sys.argv[6:]
h, _, w = size_text.lower().partition("x")
height, width = int(h), int(w or h)

def emit(**fields):
    print(json.dumps(fields), flush=True)

def timeit(call):
    for _ in range(warmup):
        call()
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3, min(times) * 1e3

try:
    if mode in ("torch", "export"):
        import torch, timm
    elif mode == "ort":
        import numpy as np, onnxruntime as ort
    elif mode == "ov":
        import numpy as np, openvino as ov
except ImportError as error:
    emit(skip=f"Python package '{error.name}' is not installed")
    sys.exit(0)

def timm_model():
    torch.manual_seed(0)
    size = height if height == width else (height, width)
    return timm.create_model("swin_tiny_patch4_window7_224", pretrained=False, img_size=size).eval()

if mode == "torch":
    torch.set_num_threads(threads)
    emit(version=f"torch {torch.__version__}, timm {timm.__version__}")
    model = timm_model()
    x = torch.randn(1, 3, height, width)
    peers_dir, ratios = extra[0], [r for r in extra[1].split(",") if r]
    with torch.inference_mode():
        median, fastest = timeit(lambda: model(x))
        emit(engine="timm", config="dense", median_ms=median, min_ms=fastest)
        sys.path.insert(0, peers_dir)
        try:
            import sparsevit_ref as R
        except ImportError:
            emit(note=f"sparsevit_ref.py not found in {peers_dir}: reference pruning skipped (--peers-dir)")
            sys.exit(0)
        for ratio in ["0"] + ratios:
            config = [[float(ratio)] * len(stage.blocks) for stage in model.layers]
            try:
                median, fastest = timeit(lambda: R.forward(model, x, config))
            except AssertionError as error:
                emit(note=f"reference pruning at {size_text}: {error}")
                break
            label = "dense" if float(ratio) == 0 else f"uniform {ratio}"
            emit(engine="ref", config=label, median_ms=median, min_ms=fastest)
elif mode == "export":
    model = timm_model()
    torch.onnx.export(model, (torch.randn(1, 3, height, width),), extra[0], dynamo=False, opset_version=17,
                      input_names=["x"], output_names=["logits"])
    emit(exported=extra[0])
elif mode == "ort":
    x = np.random.default_rng(0).standard_normal((1, 3, height, width), dtype=np.float32)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(extra[0], options, providers=["CPUExecutionProvider"])
    emit(version=f"onnxruntime {ort.__version__}")
    median, fastest = timeit(lambda: session.run(None, {"x": x}))
    emit(engine="onnxruntime", config="dense", median_ms=median, min_ms=fastest)
elif mode == "ov":
    x = np.random.default_rng(0).standard_normal((1, 3, height, width), dtype=np.float32)
    core = ov.Core()
    emit(version=f"openvino {ov.__version__}")
    for engine, hint in (("openvino", {"INFERENCE_PRECISION_HINT": "f32"}), ("openvino-default", {})):
        compiled = core.compile_model(extra[0], "CPU", {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY", **hint})
        if not hint:
            chosen = compiled.get_property('INFERENCE_PRECISION_HINT')
            emit(note=f"OpenVINO with default settings chose precision {getattr(chosen, 'get_type_name', lambda: str(chosen))()}")
        request = compiled.create_infer_request()
        median, fastest = timeit(lambda: request.infer({0: x}))
        emit(engine=engine, config="dense", median_ms=median, min_ms=fastest)
'''

ENGINES = [("sparsevit", "sparsevit"), ("sparsevit-bf16", "sparsevit bf16"), ("timm", "timm eager"),
           ("ref", "timm + ref pruning"), ("onnxruntime", "onnxruntime"), ("openvino", "openvino f32"),
           ("openvino-default", "openvino default")]
OURS = ("sparsevit", "sparsevit-bf16")
PEERS = [key for key, _ in ENGINES if key not in OURS]


def log(message):
    print(message, file=sys.stderr, flush=True)


def default_python():
    if os.environ.get("PEERS_PYTHON"):
        return os.environ["PEERS_PYTHON"]
    venv = os.environ.get("PEERS_VENV", os.path.expanduser("~/.cache/sparsevit-peers"))
    candidate = os.path.join(venv, "bin", "python")
    return candidate if os.access(candidate, os.X_OK) else sys.executable


def default_peers_dir():
    for candidate in (os.environ.get("SPARSEVIT_PEERS_DIR"), os.path.join(REPO, "..", "shared", "peers"),
                      "/work/shared/peers"):
        if candidate and os.path.exists(os.path.join(candidate, "sparsevit_ref.py")):
            return os.path.abspath(candidate)
    return os.path.join(REPO, "..", "shared", "peers")


def parse_list(text, what, check):
    items = [item.strip() for item in text.split(",")]
    if any(not item for item in items):
        raise SystemExit(f"Error: '--{what}' has an empty item in '{text}'")
    for item in items:
        if not check(item):
            raise SystemExit(f"Error: '--{what}' item '{item}' is not valid")
    return items


def is_size(item):
    parts = item.lower().split("x")
    return 1 <= len(parts) <= 2 and all(part.isdigit() and int(part) >= 32 for part in parts)


def is_ratio(item):
    try:
        return 0 < float(item) < 1
    except ValueError:
        return False


def size_label(item):
    h, _, w = item.lower().partition("x")
    return f"{int(h)}x{int(w or h)}"


class Results:
    def __init__(self):
        self.median = {}    # (size label, config, engine) -> ms (median over passes)
        self.samples = {}   # (size label, config, engine) -> [ms per pass]
        self.versions = {}  # engine key -> version text
        self.notes = []

    def add(self, key, ms):
        self.samples.setdefault(key, []).append(ms)
        self.median[key] = statistics.median(self.samples[key])

    def note(self, text):
        if text not in self.notes:
            self.notes.append(text)
            log(f"note: {text}")


def run_worker(args, results, mode, size, extra, what):
    command = [args.python, "-c", WORKER, mode, size, str(args.threads), str(args.warmup), str(args.iterations)]
    command += extra
    log(f"running {what} at {size_label(size)} ...")
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout)
    except FileNotFoundError:
        results.note(f"{what}: Python '{args.python}' not found (--python)")
        return []
    except subprocess.TimeoutExpired:
        results.note(f"{what} at {size_label(size)}: no result within {args.timeout} s")
        return []
    records = []
    for line in done.stdout.splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            pass
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        results.note(f"{what} at {size_label(size)} failed (exit {done.returncode}): {last}")
    for record in records:
        if "skip" in record:
            results.note(f"{what} skipped: {record['skip']}")
        if "note" in record:
            results.note(record["note"])
        if "median_ms" in record:
            results.add((size_label(size), record["config"], record["engine"]), record["median_ms"])
    return records


def run_sparsevit(args, results, sizes, ratios, precision="f32"):
    engine_key = "sparsevit" if precision == "f32" else f"sparsevit-{precision}"
    binary = args.sparsevit
    if not os.access(binary, os.X_OK):
        results.note(f"sparsevit skipped: {binary} not found (build it with 'swift build -c release')")
        return
    with tempfile.TemporaryDirectory() as directory:
        output = os.path.join(directory, "bench.json")
        command = [binary, "bench", "--sizes", ",".join(sizes), "--sparsity", ",".join(["dense"] + ratios),
                   "--threads", str(args.threads), "--batch", "1", "--warmup", str(args.warmup),
                   "--iterations", str(args.iterations), "--precision", precision, "--json", output]
        log("running " + " ".join(command))
        done = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no message"])[-1]
            results.note(f"sparsevit {precision} bench failed (exit {done.returncode}): {last}")
            return
        with open(output) as handle:
            document = json.load(handle)
    engine = document["engine"]
    results.versions[engine_key] = (f"sparsevit {engine['version']} ({engine['build']}, OpenBLAS {engine['blas_version']}); "
                                    f"{engine.get('block_kernel', '')}")
    if engine["build"] != "release":
        results.note("sparsevit is a DEBUG build: its times mean nothing")
    for run in document["runs"]:
        label = "dense" if run["baseline"] else run["label"]
        results.add((f"{run['height']}x{run['width']}", label, engine_key), run["median_ms"])


def run_all(args, results, sizes, ratios):
    """Per size: export the ONNX model once, then `--passes` passes that each run every engine once
    (sparsevit, PyTorch/timm with the reference pruning, ONNX Runtime, OpenVINO), so that a drift in
    the machine's speed hits every engine alike; each figure is the median over passes."""
    skip = set(args.skip)
    with tempfile.TemporaryDirectory() as directory:
        for size in sizes:
            model = None
            if "onnxruntime" not in skip or "openvino" not in skip:
                model = os.path.join(directory, f"swin_t_{size_label(size)}.onnx")
                run_worker(args, results, "export", size, [model], "ONNX export (PyTorch)")
                if not os.path.exists(model):
                    results.note("ONNX Runtime and OpenVINO skipped: no ONNX export (needs torch, timm and onnx)")
                    model = None
            for index in range(args.passes):
                if args.passes > 1:
                    log(f"pass {index + 1}/{args.passes} at {size_label(size)}")
                if "sparsevit" not in skip:
                    run_sparsevit(args, results, [size], ratios)
                if "sparsevit-bf16" not in skip:
                    run_sparsevit(args, results, [size], ratios, precision="bf16")
                if "timm" not in skip or "ref" not in skip:
                    for record in run_worker(args, results, "torch", size, [args.peers_dir, ",".join(ratios)], "PyTorch/timm"):
                        if "version" in record:
                            results.versions["timm"] = results.versions["ref"] = record["version"]
                if model is None:
                    continue
                for mode, key, what in (("ort", "onnxruntime", "ONNX Runtime"), ("ov", "openvino", "OpenVINO")):
                    if key in skip:
                        continue
                    for record in run_worker(args, results, mode, size, [model], what):
                        if "version" in record:
                            results.versions[key] = record["version"]
            if model is not None:
                os.remove(model)
    for key in skip:
        for size in sizes:
            for config in ["dense"] + [f"uniform {r}" for r in ratios]:
                results.median.pop((size_label(size), config, key), None)


def table(args, results, sizes, ratios):
    engines = [(key, title) for key, title in ENGINES if any(k[2] == key for k in results.median)]
    if not engines:
        return "no engine produced a result\n"
    ours = [(key, title) for key, title in engines if key in OURS]
    headers = ["size", "config"] + [title for _, title in engines] + ["best peer"] + [f"{title} / best peer" for _, title in ours]
    rows = []
    for size in map(size_label, sizes):
        for config in ["dense"] + [f"uniform {r}" for r in ratios]:
            peers = {key: results.median[(size, config, key)] for key in PEERS if (size, config, key) in results.median}
            best = min(peers.items(), key=lambda item: item[1]) if peers else None
            row = [size, config]
            for key, _ in engines:
                value = results.median.get((size, config, key))
                if value is None:
                    row.append("—")
                elif best:
                    row.append(f"{value:.1f} ({value / best[1]:.2f}x)")
                else:
                    row.append(f"{value:.1f}")
            row.append(f"{dict(ENGINES)[best[0]]} {best[1]:.1f}" if best else "—")
            for key, _ in ours:
                mine = results.median.get((size, config, key))
                row.append(f"{mine / best[1]:.2f}x" if best and mine is not None else "—")
            rows.append(row)
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]
    def line(cells):
        return "  ".join(cell.ljust(width) if i < 2 else cell.rjust(width)
                         for i, (cell, width) in enumerate(zip(cells, widths))).rstrip()
    text = [line(headers), "  ".join("-" * width for width in widths)] + [line(row) for row in rows]
    return "\n".join(text) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="224,672", help="comma list of N or HxW (default 224,672)")
    parser.add_argument("--ratios", default="0.3,0.6", help="uniform pruning ratios besides dense (default 0.3,0.6)")
    parser.add_argument("--threads", type=int, default=2, help="threads for every engine (default 2)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls (sparsevit: rounds) first (default 3)")
    parser.add_argument("--iterations", type=int, default=10, help="timed calls per configuration (default 10)")
    parser.add_argument("--passes", type=int, default=1,
                        help="passes over all engines, alternating (default 1); each figure is the median over passes")
    parser.add_argument("--python", default=default_python(), help="Python with the peers (default: the peers venv)")
    parser.add_argument("--peers-dir", default=default_peers_dir(), help="directory of sparsevit_ref.py")
    parser.add_argument("--sparsevit", default=os.path.join(REPO, ".build", "release", "sparsevit"),
                        help="the sparsevit binary (default .build/release/sparsevit)")
    parser.add_argument("--skip", default="", help="comma list of engines to leave out: " + ", ".join(k for k, _ in ENGINES))
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per measurement process (default 3600)")
    parser.add_argument("--json", help="also write every median to this file")
    args = parser.parse_args()
    sizes = parse_list(args.sizes, "sizes", is_size)
    ratios = parse_list(args.ratios, "ratios", is_ratio) if args.ratios else []
    args.skip = [item for item in args.skip.split(",") if item]
    unknown = [item for item in args.skip if item not in dict(ENGINES)]
    if unknown or args.threads < 1 or args.iterations < 1 or args.warmup < 0 or args.passes < 1:
        parser.error(f"unknown engine(s) {unknown}" if unknown else "threads, iterations and passes must be ≥ 1, warmup ≥ 0")

    results = Results()
    run_all(args, results, sizes, ratios)

    passes = f", median over {args.passes} alternating passes" if args.passes > 1 else ""
    print(f"Swin-T, batch 1, {args.threads} threads; median ms of {args.iterations} timed runs after {args.warmup} warm-up{passes}; "
          "(N.NNx) = ratio to the best peer of the row (lower is faster)")
    for key, title in ENGINES:
        if key in results.versions and (key != "ref" or "timm" not in results.versions):
            print(f"  {title}: {results.versions[key]}")
    print(table(args, results, sizes, ratios), end="")
    print("sparsevit interleaves its configurations in one process; each peer runs in its own process; engines alternate pass by pass.")
    for note in results.notes:
        print(f"note: {note}")
    if args.json:
        entries = [{"size": size, "config": config, "engine": engine, "median_ms": round(ms, 3),
                    "pass_medians_ms": [round(x, 3) for x in results.samples.get((size, config, engine), [])]}
                   for (size, config, engine), ms in sorted(results.median.items())]
        with open(args.json + ".tmp", "w") as handle:
            json.dump({"threads": args.threads, "passes": args.passes, "iterations": args.iterations, "warmup": args.warmup,
                       "versions": results.versions, "notes": results.notes, "medians": entries}, handle, indent=2)
        os.replace(args.json + ".tmp", args.json)


if __name__ == "__main__":
    main()
