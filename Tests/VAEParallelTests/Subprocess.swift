import Foundation
import XCTest

/// The finished run of a child process.
struct ProcessResult {
    let status: Int32
    let standardOutput: String
    let standardError: String
    let seconds: Double

    /// Lines of standard error containing `text`.
    func errorLines(containing text: String) -> [Substring] {
        standardError.split(separator: "\n").filter { $0.contains(text) }
    }
}

/// Runs `executable` with a hard deadline: a hang fails the test instead of blocking CI.
/// Output goes to files, not pipes, so a chatty child can never block on a full pipe.
func runProcess(
    _ executable: URL, _ arguments: [String], environment: [String: String],
    timeout: Double = 60, file: StaticString = #filePath, line: UInt = #line
) throws -> ProcessResult {
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("vae-parallel-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let outputURL = directory.appendingPathComponent("stdout")
    let errorURL = directory.appendingPathComponent("stderr")
    for url in [outputURL, errorURL] {
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw TestSetupError("cannot create \(url.path)")
        }
    }

    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    process.environment = environment
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = try FileHandle(forWritingTo: outputURL)
    process.standardError = try FileHandle(forWritingTo: errorURL)

    let start = Date()
    try process.run()
    while process.isRunning && Date().timeIntervalSince(start) < timeout {
        Thread.sleep(forTimeInterval: 0.05)
    }
    let timedOut = process.isRunning
    if timedOut {
        // mpirun forwards SIGTERM to its ranks; SIGKILL if it does not go quietly.
        process.terminate()
        let grace = Date()
        while process.isRunning && Date().timeIntervalSince(grace) < 5 {
            Thread.sleep(forTimeInterval: 0.05)
        }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
    process.waitUntilExit()
    let result = ProcessResult(
        status: process.terminationStatus,
        standardOutput: (try? String(contentsOf: outputURL, encoding: .utf8)) ?? "",
        standardError: (try? String(contentsOf: errorURL, encoding: .utf8)) ?? "",
        seconds: Date().timeIntervalSince(start))
    if timedOut {
        XCTFail("""
            timed out after \(Int(timeout)) s (a hang): \(executable.lastPathComponent) \(arguments.joined(separator: " "))
            stdout:
            \(result.standardOutput)
            stderr:
            \(result.standardError)
            """, file: file, line: line)
    }
    return result
}

/// The `vae-dist` binary built beside this test bundle (`swift build --build-tests`
/// builds it: the test target depends on the executable).
func vaeDistBinary() throws -> URL {
    let bundle = Bundle.main.bundleURL
    let candidates = [
        bundle,                                  // Linux: the .xctest executable's directory
        bundle.deletingLastPathComponent(),      // macOS: the directory holding the .xctest bundle
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
    ].map { $0.appendingPathComponent("vae-dist") }
    guard let binary = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
        throw TestSetupError("vae-dist binary not found in \(candidates.map(\.path)); build with `swift build --build-tests`")
    }
    return binary
}

/// `mpirun` from PATH; missing means the machine is not set up (scripts/setup.sh).
func mpirunExecutable() throws -> URL {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    for directory in path.split(separator: ":") {
        let candidate = URL(fileURLWithPath: String(directory)).appendingPathComponent("mpirun")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
    }
    throw TestSetupError("mpirun not found in PATH; run scripts/setup.sh (openmpi-bin)")
}

/// The environment for a child: this one minus any launcher variables (so a test run
/// inside mpirun or a Slurm job does not leak them), plus what mpirun needs as root.
func childEnvironment(_ extra: [String: String] = [:]) -> [String: String] {
    let launcherPrefixes = ["OMPI_", "PMI_", "PMIX_", "SLURM_", "PRTE_"]
    var environment = ProcessInfo.processInfo.environment.filter { name, _ in
        !launcherPrefixes.contains { name.hasPrefix($0) }
    }
    environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
    environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
    environment["OPENBLAS_NUM_THREADS"] = "1"
    return environment.merging(extra) { _, new in new }
}

struct TestSetupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
