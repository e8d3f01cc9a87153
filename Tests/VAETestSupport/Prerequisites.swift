import Foundation
import XCTest

/// The tools and Python modules some tests need, which scripts/setup.sh installs.
///
/// A developer's machine may lack one: the test is skipped, saying what is missing and
/// which package brings it. Under CI, or after scripts/test.sh ran setup.sh, the same
/// absence fails the test instead: a check that quietly skips there would keep CI green
/// while checking nothing.
public enum Prerequisites {
    /// Skips are failures: the `CI` variable is set (not "false" or "0"), or
    /// `VAE_DIST_TEST_PREREQUISITES=required` (scripts/test.sh sets it once setup has run).
    public static var required: Bool {
        let environment = ProcessInfo.processInfo.environment
        if let ci = environment["CI"], !ci.isEmpty, ci != "false", ci != "0" { return true }
        return environment["VAE_DIST_TEST_PREREQUISITES"] == "required"
    }

    /// The test cannot run here: a skip on a developer's machine, a failure when required.
    public static func missing(_ what: String, installedBy package: String, for purpose: String) throws -> Never {
        let text = "\(what) is missing (scripts/setup.sh installs \(package)): \(purpose) not checked"
        if required { throw MissingPrerequisite(description: text + " (a failure here: the scripts install it)") }
        throw XCTSkip(text)
    }

    /// A program scripts/setup.sh installs, e.g. `file` or `h5dump`.
    public static func tool(_ name: String, package: String, for purpose: String) throws -> URL {
        guard let url = programInPath(name) else { try missing("`\(name)`", installedBy: package, for: purpose) }
        return url
    }

    /// A file a package installs (the Fashion-MNIST archives).
    public static func file(_ path: String, package: String, for purpose: String) throws -> String {
        guard FileManager.default.fileExists(atPath: path) else { try missing(path, installedBy: package, for: purpose) }
        return path
    }

    /// A Python interpreter that imports every module in `modules`.
    ///
    /// Candidates in order: `$VAE_DIST_PYTHON`, Debian's /usr/bin/python3 (which sees the
    /// python3-h5py, -matplotlib, -pil packages setup.sh installs, also where a pyenv or
    /// venv python3 comes first in PATH), then python3 from PATH.
    public static func python(_ modules: [String], for purpose: String) throws -> URL {
        let key = modules.sorted().joined(separator: ",")
        if let known = pythonCache.withLock({ $0[key] }) {
            guard let known else {
                try missing("python3 with \(modules.joined(separator: ", "))", installedBy: debianPackages(modules), for: purpose)
            }
            return known
        }
        let environment = ProcessInfo.processInfo.environment
        let candidates = [environment["VAE_DIST_PYTHON"].map { URL(fileURLWithPath: $0) },
                          URL(fileURLWithPath: "/usr/bin/python3"), programInPath("python3")].compactMap { $0 }
        let found = candidates.first { candidate in
            FileManager.default.isExecutableFile(atPath: candidate.path)
                && (try? ChildProcess(candidate, ["-c", "import " + (modules + ["sys"]).joined(separator: ", ")])
                    .finish(timeout: 60).status) == 0
        }
        pythonCache.withLock { $0[key] = .some(found) }
        guard let found else {
            try missing("python3 with \(modules.joined(separator: ", "))", installedBy: debianPackages(modules), for: purpose)
        }
        return found
    }

    /// Runs a Python that has `modules` with `arguments`.
    public static func runPython(_ arguments: [String], modules: [String], for purpose: String, timeout: Double = 120,
                                 file: StaticString = #filePath, line: UInt = #line) throws -> ProcessResult {
        try runProcess(try python(modules, for: purpose), arguments, timeout: timeout, file: file, line: line)
    }

    private static func debianPackages(_ modules: [String]) -> String {
        let packages = ["h5py": "python3-h5py", "numpy": "python3-numpy", "matplotlib": "python3-matplotlib",
                        "PIL": "python3-pil", "tensorboard": "tensorboard (pip, into scripts/test.sh's venv .build/python)"]
        return modules.map { packages[$0] ?? "python3" }.joined(separator: ", ")
    }

    private static let pythonCache = Locked<[String: URL?]>([:])
}

/// A prerequisite the scripts install is missing where they ran: a failure, not a skip.
public struct MissingPrerequisite: Error, CustomStringConvertible {
    public let description: String
}

/// A value behind a lock.
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
