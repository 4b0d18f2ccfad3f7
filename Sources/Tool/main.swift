// The `sparsevit` command: parse, call the library, print. Exit 0 ok, 64 usage error, 1 failure.
import Foundation

/// Each command parses its arguments once into its options struct, then runs on that struct.
let commands: [(spec: CommandSpec, run: (Arguments) throws -> Void)] = [
  (RunCommand.spec, { try RunCommand.run(RunOptions($0)) }),
  (InfoCommand.spec, { try InfoCommand.run(InfoOptions($0)) }),
  (BenchCommand.spec, { try BenchCommand.run(BenchOptions($0)) }),
  (SearchCommand.spec, { try SearchCommand.run(SearchOptions($0)) }),
  (EvalCommand.spec, { try EvalCommand.run(EvalOptions($0)) }),
  (MaskCommand.spec, { try MaskCommand.run(MaskOptions($0)) }),
  (ServeCommand.spec, { try ServeCommand.run(ServeOptions($0)) }),
]

let overview = """
  OVERVIEW: Swin Transformer inference on the CPU with SparseViT window activation pruning.

  USAGE: sparsevit <command> [options]

  COMMANDS:
  \(commands.map { "  " + $0.spec.name.padding(toLength: 10, withPad: " ", startingAt: 0) + $0.spec.summary }.joined(separator: "\n"))

    See 'sparsevit <command> --help' for the options of a command.
  """

@MainActor
func main() -> Int32 {
  let arguments = Array(CommandLine.arguments.dropFirst())
  guard let name = arguments.first else {
    print(overview)
    return 0
  }
  if name == "-h" || name == "--help" || name == "help" {
    print(overview)
    return 0
  }
  guard let command = commands.first(where: { $0.spec.name == name }) else {
    printError("Error: unknown command '\(name)'\n")
    printError(overview)
    return 64
  }
  let rest = Array(arguments.dropFirst())
  if rest.contains("-h") || rest.contains("--help") {
    print(command.spec.helpText)
    return 0
  }
  do {
    try command.run(Arguments(rest, spec: command.spec))
    return 0
  } catch let error as UsageError {
    printError("Error: \(error.message)")
    let spec = error.command ?? command.spec
    printError("Usage: sparsevit \(spec.name) \(spec.usage)")
    printError("  See 'sparsevit \(spec.name) --help' for more information.")
    return 64
  } catch {
    let text = String(describing: error)
    printError("Error: \(text.split(separator: "\n").joined(separator: " "))")
    return 1
  }
}

exit(main())
