import Foundation
import XCTest

/// The `vae-dist` binary built beside the test bundle (`swift build --build-tests` builds
/// it: the test targets depend on the executable).
public func vaeDistBinary() throws -> URL {
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

/// A program from PATH (then /usr/bin, /bin), or nil.
public func programInPath(_ name: String) -> URL? {
    let path = (ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/bin:/bin"
    return path.split(separator: ":").map { URL(fileURLWithPath: String($0)).appendingPathComponent(name) }
        .first { FileManager.default.isExecutableFile(atPath: $0.path) }
}

/// `mpirun`; scripts/setup.sh installs it (openmpi-bin), so its absence fails the test.
public func mpirunExecutable() throws -> URL {
    guard let mpirun = programInPath("mpirun") else {
        throw TestSetupError("mpirun not found in PATH; run scripts/setup.sh (openmpi-bin)")
    }
    return mpirun
}

/// The mpirun command line that starts `ranks` copies of vae-dist.
public func mpirunArguments(ranks: Int, _ arguments: [String]) throws -> [String] {
    ["-n", String(ranks), "--oversubscribe", "--bind-to", "none", try vaeDistBinary().path] + arguments
}

/// The environment for a child: this one minus any launcher variables (so a test run
/// inside mpirun or a Slurm job does not leak them), plus what mpirun needs as root.
public func childEnvironment(_ extra: [String: String] = [:]) -> [String: String] {
    let launcherPrefixes = ["OMPI_", "PMI_", "PMIX_", "SLURM_", "PRTE_"]
    var environment = ProcessInfo.processInfo.environment.filter { name, _ in
        !launcherPrefixes.contains { name.hasPrefix($0) }
    }
    environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
    environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
    environment["OPENBLAS_NUM_THREADS"] = "1"
    return environment.merging(extra) { _, new in new }
}

/// Runs the vae-dist binary as one plain process.
@discardableResult
public func runVAEDist(_ arguments: [String], environment extra: [String: String] = [:], currentDirectory: String? = nil,
                       standardInput: String? = nil, standardOutput: OutputTarget = .captured, timeout: Double = 120,
                       expectSignal: Int32? = nil, file: StaticString = #filePath, line: UInt = #line) throws -> ProcessResult {
    try runProcess(try vaeDistBinary(), arguments, environment: childEnvironment(extra), currentDirectory: currentDirectory,
                   standardInput: standardInput, standardOutput: standardOutput, timeout: timeout,
                   expectSignal: expectSignal, file: file, line: line)
}

/// Runs the vae-dist binary under `mpirun -n ranks`.
@discardableResult
public func runUnderMPI(ranks: Int, _ arguments: [String], environment extra: [String: String] = [:],
                        timeout: Double = 60, file: StaticString = #filePath, line: UInt = #line) throws -> ProcessResult {
    try runProcess(try mpirunExecutable(), try mpirunArguments(ranks: ranks, arguments), environment: childEnvironment(extra),
                   timeout: timeout, file: file, line: line)
}

/// The repository root (this file is Tests/VAETestSupport/Programs.swift).
public let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path
