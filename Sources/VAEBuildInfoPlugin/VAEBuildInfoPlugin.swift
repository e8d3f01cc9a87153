import Foundation
import PackagePlugin

/// Runs scripts/build-commit.sh, which writes `BuildCommit.swift` into the VAEBuildInfo target:
/// the git commit the binary is built from.
///
/// The command runs whenever HEAD moves (its reflog, `logs/HEAD`), the index changes, or any
/// source file of the package changes, so the commit and its "-dirty" mark are those of the
/// sources being compiled. (A prebuild command would be simpler, but SwiftPM caches build
/// plans and does not run it again after a commit.)
@main
struct VAEBuildInfoPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let package = context.package.directoryURL
        let output = context.pluginWorkDirectoryURL.appending(path: "BuildCommit.swift")
        let script = package.appending(path: "scripts/build-commit.sh")
        var inputs = [script, package.appending(path: "Sources/VAEBuildInfo/ArchiveCommit.txt")]
        if let gitDirectory = Self.gitDirectory(of: package) {
            inputs += ["logs/HEAD", "index"].map { gitDirectory.appending(path: $0) }
                .filter { FileManager.default.fileExists(atPath: $0.path) }
        }
        for case let module as SourceModuleTarget in context.package.targets {
            inputs += module.sourceFiles.map(\.url)
        }
        return [.buildCommand(
            displayName: "Recording the git commit of the build",
            executable: URL(fileURLWithPath: "/bin/sh"),
            arguments: [script.path, package.path, output.path],
            inputFiles: inputs, outputFiles: [output])]
    }

    /// The repository's git directory: `.git`, or where a worktree's `.git` file points.
    static func gitDirectory(of package: URL) -> URL? {
        let dotGit = package.appending(path: ".git")
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dotGit.path, isDirectory: &isDirectory) else { return nil }
        if isDirectory.boolValue { return dotGit }
        guard let text = try? String(contentsOf: dotGit, encoding: .utf8), text.hasPrefix("gitdir:") else { return nil }
        let path = text.dropFirst("gitdir:".count).trimmingCharacters(in: .whitespacesAndNewlines)
        return path.hasPrefix("/") ? URL(fileURLWithPath: path) : package.appending(path: path)
    }
}
