import Foundation
import XCTest

/// The finished run of a child process (`ChildProcess.finish`).
public struct ProcessResult: Sendable {
    /// The exit status; minus the signal's number when a signal ended the process.
    public let status: Int32
    /// The signal that ended the process, nil when it exited.
    public let signal: Int32?
    public let standardOutput: String
    public let standardError: String
    public let seconds: Double
    /// It was still running at the deadline and was killed.
    public let timedOut: Bool
    /// Processes of its group still alive after it ended (killed then).
    public let survivors: [Int32]

    /// Lines of standard error containing `text`.
    public func errorLines(containing text: String) -> [Substring] {
        standardError.split(separator: "\n").filter { $0.contains(text) }
    }

    /// The `vae-dist: error: ...` lines, in order.
    public var errorMessages: [Substring] { errorLines(containing: errorPrefix) }

    /// Both outputs, for a failure message.
    public var transcript: String {
        "status \(status)\(signal.map { " (signal \($0))" } ?? "")\nstdout:\n\(standardOutput)\nstderr:\n\(standardError)"
    }
}

let errorPrefix = "vae-dist: error: "

/// What a crash leaves in standard error, from the Swift runtime or from mpirun about a rank.
private let crashMarkers = ["Program crashed", "Fatal error:", "Segmentation fault", "exited on signal", "core dumped",
                            "Illegal instruction", "Bus error", "Aborted"]

/// Asserts a successful run: exit status 0, no signal, no crash report.
public func assertSucceeded(_ result: ProcessResult, _ context: @autoclosure () -> String = "",
                            file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertNil(result.signal, "killed by a signal: \(context())\n\(result.transcript)", file: file, line: line)
    XCTAssertEqual(result.status, 0, "\(context())\n\(result.transcript)", file: file, line: line)
}

/// Asserts the failure a user must see: exactly `status` (an exit, not a signal), no crash
/// report, and one error message containing every fragment.
///
/// One process prints its message as the only line of standard error. Under mpirun
/// (`ranks` given) each rank may print it, prefixed `rank R: ` when it names its rank:
/// every such line must carry the same message, and there are at most `ranks` of them.
/// Tests that claim every rank prints check `rankLines` themselves.
public func assertFailed(_ result: ProcessResult, status: Int32, message fragments: [String], ranks: Int? = nil,
                         _ context: @autoclosure () -> String = "", file: StaticString = #filePath, line: UInt = #line) {
    let context = "\(context())\n\(result.transcript)"
    XCTAssertNil(result.signal, "killed by signal \(result.signal ?? 0), not an exit: \(context)", file: file, line: line)
    XCTAssertEqual(result.status, status, "exit status: \(context)", file: file, line: line)
    for marker in crashMarkers where result.standardError.contains(marker) {
        XCTFail("standard error reports a crash ('\(marker)'): \(context)", file: file, line: line)
    }
    let messages = result.errorMessages
    if let ranks {
        XCTAssertTrue((1...ranks).contains(messages.count), "expected 1...\(ranks) error lines: \(context)", file: file, line: line)
        XCTAssertEqual(Set(messages.map(withoutRank)).count, 1, "the ranks disagree: \(context)", file: file, line: line)
    } else {
        let lines = result.standardError.split(separator: "\n").filter { !$0.hasPrefix("vae-dist: warning: ") }
        XCTAssertEqual(lines.count, 1, "not one line (warnings aside): \(context)", file: file, line: line)
        XCTAssertEqual(messages.count, 1, "no `vae-dist: error:` line: \(context)", file: file, line: line)
    }
    for message in messages {
        XCTAssertEqual(message.components(separatedBy: errorPrefix).count, 2, "two messages on a line: \(context)",
                       file: file, line: line)
        for fragment in fragments where !message.contains(fragment) {
            XCTFail("the message lacks '\(fragment)': \(context)", file: file, line: line)
        }
    }
}

/// Asserts a command-line mistake: status 64 (EX_USAGE, docs/faults.md) and one line naming it.
public func assertUsageError(_ result: ProcessResult, message fragments: [String], ranks: Int? = nil,
                             _ context: @autoclosure () -> String = "", file: StaticString = #filePath, line: UInt = #line) {
    assertFailed(result, status: 64, message: fragments, ranks: ranks, context(), file: file, line: line)
}

/// `vae-dist: error: rank 1: X` -> `vae-dist: error: X`.
func withoutRank(_ line: Substring) -> String {
    guard let range = line.range(of: #"rank [0-9]+: "#, options: .regularExpression),
          line[..<range.lowerBound].hasSuffix(errorPrefix) else { return String(line) }
    return String(line[..<range.lowerBound] + line[range.upperBound...])
}

/// The lines of `text` that rank R wrote, for each rank: `rank R: ` starts them or follows
/// `vae-dist: error: `. A test that says "every rank prints" checks each rank's entry.
public func rankLines(_ text: String, ranks: Int) -> [[Substring]] {
    let lines = text.split(separator: "\n")
    return (0..<ranks).map { rank in
        lines.filter { $0.hasPrefix("rank \(rank): ") || $0.contains("\(errorPrefix)rank \(rank): ") }
    }
}
