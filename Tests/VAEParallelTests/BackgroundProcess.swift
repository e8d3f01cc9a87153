import Foundation
import XCTest

/// A child process the test signals or kills while it runs: start it, wait for a
/// condition (a line in a file, a file appearing), act, then wait for it with a deadline.
final class BackgroundProcess {
    let process = Process()
    private let directory: URL
    private let outputURL: URL
    private let errorURL: URL

    init(_ executable: URL, _ arguments: [String], environment: [String: String]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("vae-background-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        outputURL = directory.appendingPathComponent("stdout")
        errorURL = directory.appendingPathComponent("stderr")
        for url in [outputURL, errorURL] { _ = FileManager.default.createFile(atPath: url.path, contents: nil) }
        process.executableURL = executable
        process.arguments = arguments
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: outputURL)
        process.standardError = try FileHandle(forWritingTo: errorURL)
        try process.run()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: directory)
    }

    var pid: Int32 { process.processIdentifier }
    var standardOutput: String { (try? String(contentsOf: outputURL, encoding: .utf8)) ?? "" }
    var standardError: String { (try? String(contentsOf: errorURL, encoding: .utf8)) ?? "" }

    /// Polls `condition` every `interval` seconds until it holds (true) or the process
    /// ended or `timeout` passed (false).
    func waitFor(timeout: Double, interval: Double = 0.005, _ condition: () -> Bool) -> Bool {
        let start = Date()
        while Date().timeIntervalSince(start) < timeout {
            if condition() { return true }
            if !process.isRunning { return condition() }
            Thread.sleep(forTimeInterval: interval)
        }
        return false
    }

    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// Waits for the exit; a process still running after `timeout` is killed and reported as a hang.
    /// `timedOut` is set when it had to be killed; with `failOnHang` the test fails too.
    func finish(timeout: Double, failOnHang: Bool = true, timedOut: UnsafeMutablePointer<Bool>? = nil,
                file: StaticString = #filePath, line: UInt = #line) -> ProcessResult {
        let start = Date()
        while process.isRunning && Date().timeIntervalSince(start) < timeout { Thread.sleep(forTimeInterval: 0.005) }
        timedOut?.pointee = process.isRunning
        if process.isRunning && !failOnHang {
            kill(process.processIdentifier, SIGKILL)
        } else if process.isRunning {
            XCTFail("still running \(Int(timeout)) s after the fault (a hang)\nstdout:\n\(standardOutput)\nstderr:\n\(standardError)",
                    file: file, line: line)
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        return ProcessResult(status: process.terminationStatus, standardOutput: standardOutput,
                             standardError: standardError, seconds: Date().timeIntervalSince(start))
    }

    /// The `vae-dist` processes mpirun started (its direct children, found through /proc).
    func childProcessIDs(named name: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { candidate in
            guard let stat = try? String(contentsOfFile: "/proc/\(candidate)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return false }
            let command = stat[stat.index(after: stat.firstIndex(of: "(")!)..<close]
            let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
            return command == name && fields.count > 1 && Int32(fields[1]) == pid
        }
    }
}

/// The lines of a run directory's metrics.jsonl (0 when it does not exist yet).
func metricsLineCount(_ runDirectory: String) -> Int {
    let text = (try? String(contentsOfFile: runDirectory + "/metrics.jsonl", encoding: .utf8)) ?? ""
    return text.split(separator: "\n").count
}

/// Names of the files in a directory, sorted (empty when it does not exist).
func fileNames(_ directory: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
}

/// Every file under `directory` with its bytes: taken before and after a failing command
/// to prove that it changed nothing.
func snapshot(_ directory: String) -> [String: Data] {
    var files: [String: Data] = [:]
    guard let enumerator = FileManager.default.enumerator(atPath: directory) else { return files }
    while let relative = enumerator.nextObject() as? String {
        let path = directory + "/" + relative
        var isDirectory: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        files[relative] = isDirectory.boolValue ? Data("<directory>".utf8) : (FileManager.default.contents(atPath: path) ?? Data())
    }
    return files
}

/// The mpirun command line that starts `ranks` copies of vae-dist.
func mpirunArguments(ranks: Int, _ arguments: [String]) throws -> [String] {
    ["-n", String(ranks), "--oversubscribe", "--bind-to", "none", try vaeDistBinary().path] + arguments
}
