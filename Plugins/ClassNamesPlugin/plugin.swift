// Generates the Swift array of ImageNet class names from weights/imagenet_classes.txt at build
// time, so the text file is the one copy and no resource bundle has to ship with a program.
import Foundation
import PackagePlugin

@main
struct ClassNamesPlugin: BuildToolPlugin {
  func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
    let names = context.package.directoryURL.appending(path: "weights/imagenet_classes.txt")
    let output = context.pluginWorkDirectoryURL.appending(path: "ImageNetClassNames.swift")
    return [
      .buildCommand(
        displayName: "Generating ImageNet class names from weights/imagenet_classes.txt",
        executable: try context.tool(named: "ClassNamesGenerator").url,
        arguments: [names.path(percentEncoded: false), output.path(percentEncoded: false)],
        inputFiles: [names],
        outputFiles: [output])
    ]
  }
}
