// Every command's options in one table: name, value placeholder, help (what `--help` prints) and
// defaults, so that options shared by several commands read alike. Each command's options struct
// parses them.
import Engine
import Models

extension ModelOptions {
  static let weights = OptionSpec(
    name: "weights", value: "file",
    help: "Swin checkpoint (.safetensors; timm, Microsoft, torchvision or mmdet layout). Default: seeded Swin-T.")
  static let modelSeed = OptionSpec(
    name: "model-seed", value: "n", help: "Seed of the built-in random Swin-T weights when no --weights (default 0).")
  /// The former name of `--model-seed` (in `bench`, of `--model-seed` and `--input-seed` together).
  static let seed = OptionSpec(name: "seed", value: "n", help: "Deprecated: use --model-seed.")
  static let precision = OptionSpec(
    name: "precision", value: "p",
    help:
      "Arithmetic of the blocks' linear layers and attention products: f32 (default) or bf16 (bfloat16 products, f32 sums; needs avx512_bf16)."
  )
  static let threads = OptionSpec(
    name: "threads", value: "n", help: "Worker threads (default: all \(defaultThreadCount) cores).")
  static let sparsity = OptionSpec(
    name: "sparsity", value: "cfg",
    help:
      "Pruning ratios: a JSON file, a uniform ratio in [0, 1), 'dense' or a preset (\(PruningRatios.presetNames.joined(separator: ", ")))."
  )
  static let windowSemantics = OptionSpec(
    name: "window-semantics", value: "name",
    help: "How blocks pad and shift windows: \(WindowSemantics.allCases.map(\.rawValue).joined(separator: ", ")) "
      + "(default: the checkpoint's framework; timm and Microsoft: timm, torchvision: torchvision, mmdet: sparsevit).")
}

extension MaskCommand {
  static let output = OptionSpec(
    name: "output", value: "mask.png", help: "Where to write the picture (PNG, replaced atomically).")
}

extension ImageOptions {
  static let image = OptionSpec(
    name: "image", value: "file", help: "A PNG or JPEG image (any size; RGB, grayscale or palette).")
  static let size = OptionSpec(
    name: "size", value: "n", help: "Side of the square model input in pixels (default 224).")
  static let resize = OptionSpec(
    name: "resize", value: "mode",
    help:
      "'crop': resize the shorter side to size/0.875 (bicubic) and take the centre (timm's eval transform, default); 'direct': resize to size × size."
  )
}

extension RunCommand {
  static let input = OptionSpec(
    name: "input", value: "x.npy", help: "Float32 C-order array (batch, 3, height, width), ImageNet-normalized.")
  static let output = OptionSpec(
    name: "output", value: "y.npy",
    help:
      "Where to write the float32 logits (batch, classes). Required with '--input' unless '--features' or '--top' is given."
  )
  static let features = OptionSpec(
    name: "features", value: "dir", help: "Also write stage0.npy … stage3.npy (NHWC stage outputs) to this directory.")
  static let top = OptionSpec(
    name: "top", value: "k", help: "Print the k most likely classes per image (default 5 with '--image').")
  static let verbose = OptionSpec(
    name: "verbose", value: nil, help: "Print per block the ratio and kept/total windows, and the latency.")
}

extension BenchCommand {
  static let defaultSizes = "672"
  static let defaultMinTime = 5.0
  static let minimumRounds = 10
  static let maximumRounds = 10_000
  static let profilePasses = 3

  static let sizes = OptionSpec(
    name: "sizes", value: "list",
    help: "Input sizes: comma list of N (square) or HxW, e.g. 224,448,672 or 448x672 (default \(defaultSizes)).")
  static let sparsity = OptionSpec(
    name: "sparsity", value: "list",
    help:
      "Comma list of configurations: ratios in [0, 1), 'dense', presets (\(PruningRatios.presetNames.joined(separator: ", "))) or JSON files (default \(SparsityList.defaultList)). Dense is added as the speedup baseline when missing."
  )
  static let batch = OptionSpec(name: "batch", value: "n", help: "Images per forward (default 1).")
  static let warmup = OptionSpec(
    name: "warmup", value: "n", help: "Untimed warm-up rounds after the cold runs (default 1).")
  static let iterations = OptionSpec(
    name: "iterations", value: "n",
    help: "Timed rounds; each runs every configuration once (default: as many as --min-time needs).")
  static let minTime = OptionSpec(
    name: "min-time", value: "s",
    help:
      "Add rounds until every configuration has s seconds of timed runs, at least \(minimumRounds) rounds (default \(Int(defaultMinTime)))."
  )
  static let inputSeed = OptionSpec(
    name: "input-seed", value: "n", help: "Seed of the random input images (default 0; also with --weights).")
  static let json = OptionSpec(
    name: "json", value: "file", help: "Write every run (statistics, samples, machine) as JSON.")
  static let csv = OptionSpec(name: "csv", value: "file", help: "Write one CSV row per configuration and size.")
  static let markdown = OptionSpec(
    name: "markdown", value: nil, help: "Print the header and tables as Markdown instead of plain text.")
  static let profile = OptionSpec(
    name: "profile", value: nil,
    help: "Also profile \(profilePasses) separate passes per configuration: time per operation, % of the forward.")
  static let plot = OptionSpec(
    name: "plot", value: "file.svg", help: "Draw latency and speedup against sparsity (and against size) as SVG.")
}

extension SearchCommand {
  static let defaultSize = "672"
  static let defaultIterations = 6
  static let defaultRounds = 7
  static let defaultQuietWait = 120.0
  static let defaultRecalibrateRounds = 0
  /// Default lower bound of the window as a share of the budget.
  static let defaultWindow = 0.9

  static let latencyMs = OptionSpec(
    name: "latency-ms", value: "T",
    help:
      "Latency budget per forward, milliseconds (on this machine, at --size, --batch, --threads)."
  )
  static let minLatencyMs = OptionSpec(
    name: "min-latency-ms", value: "L",
    help:
      "Lower end of the latency window sampled (default: 0.9·T, or less to include the slowest uniform ratio that fits)."
  )
  static let output = OptionSpec(
    name: "output", value: "cfg.json",
    help: "Where to write the best configuration (sparsity JSON, readable by --sparsity).")
  static let size = OptionSpec(
    name: "size", value: "n",
    help:
      "Input size N (square) or HxW (default \(defaultSize), or the --calibration images' size)."
  )
  static let batch = OptionSpec(
    name: "batch", value: "n", help: "Images per forward of the latency budget (default 1).")
  static let calibrationFile = OptionSpec(
    name: "calibration", value: "x.npy",
    help: "Calibration images: float32 (n, 3, H, W), ImageNet-normalized.")
  static let imagesDirectory = OptionSpec(
    name: "images", value: "dir",
    help:
      "Calibration images: the .png/.jpg files of a directory (resized and centre-cropped to --size)."
  )
  static let calibrationCount = OptionSpec(
    name: "calibration-count", value: "n",
    help:
      "Calibration images scored per configuration: the first n given, or n synthetic ones (default: as many as cost two 672² forwards, 1…\(CalibrationSet.maximumDefaultCount): \(CalibrationSet.defaultCount(height: 672, width: 672)) at 672, \(CalibrationSet.defaultCount(height: 224, width: 224)) at 224)."
  )
  static let score = OptionSpec(
    name: "score", value: "metric",
    help:
      "What to maximize: cosine (pooled features), top1 (agreement with dense) or mean (default cosine)."
  )
  static let population = OptionSpec(
    name: "population", value: "n", help: "Configurations per generation (default 100).")
  static let parents = OptionSpec(
    name: "parents", value: "n", help: "Best configurations kept as parents (default 25).")
  static let mutation = OptionSpec(
    name: "mutation", value: "p",
    help: "Probability that mutation redraws a pair's ratio (default 0.1).")
  static let iterations = OptionSpec(
    name: "iterations", value: "n",
    help: "Generations after the initial population (default \(defaultIterations)).")
  static let seed = OptionSpec(
    name: "seed", value: "n",
    help: "Seed of the search and of the synthetic calibration images (default 0).")
  static let plot = OptionSpec(
    name: "plot", value: "file.svg",
    help:
      "Draw score against latency (every configuration, Pareto front, uniform ratios) as SVG.")
  static let latencyModelFile = OptionSpec(
    name: "latency-model", value: "file",
    help:
      "Latency model cache file (default: $XDG_CACHE_HOME or ~/.cache, sparsevit/latency-<hash>.json)."
  )
  static let remeasure = OptionSpec(
    name: "remeasure", value: nil,
    help: "Measure the latency model again even when a cached one applies.")
  static let cacheBusy = OptionSpec(
    name: "cache-busy", value: nil,
    help: "Cache the latency model even when the machine was busy while it was measured.")
  static let rounds = OptionSpec(
    name: "rounds", value: "n",
    help: "Timed rounds per configuration when measuring latency (default \(defaultRounds)).")
  static let recalibrate = OptionSpec(
    name: "recalibrate", value: "n",
    help:
      "Map a cached latency model onto the machine's speed now (×factor + offset) from n rounds of timing dense and every ratio 0.8 (default \(defaultRecalibrateRounds): use it as cached, so that a seed gives the same result; a shared machine's speed drifts by 10–30% over minutes)."
  )
  static let quietWait = OptionSpec(
    name: "quiet-wait", value: "s",
    help:
      "Seconds in all to wait for other processes when they disturb a timed run, before it is repeated (default \(Int(defaultQuietWait)); 0: repeat at once)."
  )
  static let validateCount = OptionSpec(
    name: "validate", value: "n",
    help:
      "Time n random configurations and dense in interleaved rounds and print the latency model's prediction errors, of the time and of the fraction of dense (alone or before a search)."
  )
}
extension EvalCommand {
  static let images = OptionSpec(
    name: "images", value: "dir",
    help: "Images (.png, .jpg, .jpeg): one subfolder per class (ImageNet layout), or a flat folder.")
  static let labels = OptionSpec(
    name: "labels", value: "file.csv",
    help: "Labels of a flat folder: 'file,label' lines (label: WordNet id, class index or name).")
  static let classes = OptionSpec(
    name: "classes", value: "file",
    help:
      "Class list, one per line in index order: 'name' or 'wnid name' (default: ImageNet's names and WordNet ids for 1000-class models)."
  )
  static let sparsity = OptionSpec(
    name: "sparsity", value: "list",
    help:
      "Comma list of configurations: ratios in [0, 1), 'dense', presets (\(PruningRatios.presetNames.joined(separator: ", "))) or JSON files (default \(SparsityList.defaultList)). Dense is always evaluated: it is the reference."
  )
  static let cropFraction = OptionSpec(
    name: "crop-fraction", value: "f",
    help:
      "Share of the resized shorter side the centre crop keeps (timm's crop_pct; default 0.875, timm's pretrained Swin configs use 0.9)."
  )
  static let batch = OptionSpec(name: "batch", value: "n", help: "Images per forward (default 1).")
  static let limit = OptionSpec(
    name: "limit", value: "n", help: "Evaluate the first n images only (class folders: taken in turn from each class).")
  static let json = OptionSpec(
    name: "json", value: "file", help: "Write every configuration's results and the unreadable files as JSON.")
  static let csv = OptionSpec(name: "csv", value: "file", help: "Write one CSV row per configuration.")
  static let plot = OptionSpec(
    name: "plot", value: "file.svg",
    help: "Draw accuracy (or agreement without labels) against latency, Pareto front marked, as SVG.")
}

extension ServeCommand {
  static let host = OptionSpec(
    name: "host", value: "ipv4", help: "Address to bind (default 127.0.0.1: this machine only).")
  static let port = OptionSpec(
    name: "port", value: "n", help: "TCP port (default 8000; 0 picks a free one, printed at start).")
  static let modelName = OptionSpec(
    name: "model-name", value: "name", help: "Model name in URLs, /v2/models/<name> (default sparsevit).")
  static let maxBatch = OptionSpec(name: "max-batch", value: "n", help: "Most images per forward (default 4).")
  static let batchWindow = OptionSpec(
    name: "batch-window-ms", value: "ms", help: "How long a forward waits for more requests of its shape (default 2).")
  static let slo = OptionSpec(
    name: "slo-ms", value: "T", help: "Target latency (queueing included): prune more under load to meet it.")
  static let ladder = OptionSpec(
    name: "ladder", value: "list",
    help: "SLO levels: comma list of ratios, presets or JSON files (default 0,0.2,0.4,0.6,0.8).")
  static let latencyModel = OptionSpec(
    name: "latency-model", value: "file",
    help: "With '--slo-ms': the ladder's latencies from this latency model (a 'search' cache file), not timed.")
  static let apiKeyFile = OptionSpec(
    name: "api-key-file", value: "file", help: "Require 'Authorization: Bearer <key>' (key = the file's first line).")
  static let maxBody = OptionSpec(
    name: "max-body-mb", value: "n", help: "Largest request body in MB (default 64); larger ones get 413.")
  static let maxConnections = OptionSpec(
    name: "max-connections", value: "n", help: "Open connections at most (default 256).")
  static let timeout = OptionSpec(
    name: "timeout-s", value: "s", help: "Close a connection idle this long, e.g. a slow sender (default 10).")
  static let httpThreads = OptionSpec(
    name: "http-threads", value: "n", help: "HTTP threads: parse, queue, answer (default 2).")
  static let memoryBudget = OptionSpec(
    name: "memory-budget-mb", value: "n", help: "Refuse inputs whose forward needs more (default: half of memory).")
  static let quiet = OptionSpec(name: "quiet", value: nil, help: "No per-request log line on stderr.")
}
