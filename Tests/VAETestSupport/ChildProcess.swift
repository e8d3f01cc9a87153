import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Where a child's standard output goes.
public enum OutputTarget: Sendable {
    /// A file the result reads back (never a pipe: a chatty child cannot block on it).
    case captured
    /// Descriptor 1 closed before the program starts.
    case closed
    /// A file or device, e.g. /dev/full (every write fails with ENOSPC).
    case file(String)
    /// A pipe whose reader keeps the first line, then closes its end, as `| head -1` does:
    /// the child's next write meets a broken pipe (SIGPIPE, or EPIPE when it ignores SIGPIPE).
    case pipeClosedAfterFirstLine
}

/// A child process started in a process group of its own, whose descendants (mpirun's
/// ranks, which Open MPI puts in groups of their own) are watched while it runs.
///
/// The one process runner of the tests. `finish` reports, as test failures, the three
/// outcomes a test would otherwise not notice: a hang (past the deadline the whole job
/// is killed), a death by a signal (a crash is not an exit status), and a process of the
/// job that outlived its leader (an orphaned rank).
public final class ChildProcess: @unchecked Sendable {
    public let pid: pid_t
    public let command: String
    private let directory: String
    private let outputTarget: OutputTarget
    private let start = Date()
    private var pipeReader: Thread?
    private let pipeLock = NSLock()
    private var pipedLine = ""
    private var exitStatus: Int32?
    /// Every process seen below the leader while it ran: mpirun starts each rank in a
    /// process group of its own, so the group alone does not find them.
    private var descendants: Set<pid_t> = []
    private var lastLook = Date.distantPast

    /// Starts `executable` with `arguments`; standard input is /dev/null unless `standardInput` names a file.
    public init(_ executable: URL, _ arguments: [String], environment: [String: String] = childEnvironment(),
                currentDirectory: String? = nil, standardInput: String? = nil,
                standardOutput: OutputTarget = .captured) throws {
        command = ([executable.lastPathComponent] + arguments).joined(separator: " ")
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("vae-child-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        outputTarget = standardOutput

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, standardInput ?? "/dev/null", O_RDONLY, 0)
        var pipeEnds: [Int32] = [-1, -1]
        switch standardOutput {
        case .captured:
            posix_spawn_file_actions_addopen(&actions, 1, directory + "/stdout", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        case .closed:
            posix_spawn_file_actions_addclose(&actions, 1)
        case .file(let path):
            posix_spawn_file_actions_addopen(&actions, 1, path, O_WRONLY, 0)
        case .pipeClosedAfterFirstLine:
            guard pipe(&pipeEnds) == 0 else { throw TestSetupError("pipe: \(String(cString: strerror(errno)))") }
            posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 1)
            posix_spawn_file_actions_addclose(&actions, pipeEnds[0])
            posix_spawn_file_actions_addclose(&actions, pipeEnds[1])
        }
        posix_spawn_file_actions_addopen(&actions, 2, directory + "/stderr", O_WRONLY | O_CREAT | O_TRUNC, 0o644)

        // A group of its own; every signal at its default and none blocked, as from a shell
        // (the test runner may ignore SIGPIPE, which a child would inherit).
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        posix_spawnattr_setpgroup(&attributes, 0)
        var everySignal = sigset_t()
        sigfillset(&everySignal)
        posix_spawnattr_setsigdefault(&attributes, &everySignal)
        var noSignal = sigset_t()
        sigemptyset(&noSignal)
        posix_spawnattr_setsigmask(&attributes, &noSignal)

        // Another working directory through env(1), which then execs the program (the same process).
        let program = currentDirectory == nil ? executable.path : "/usr/bin/env"
        let prefix = currentDirectory.map { ["/usr/bin/env", "-C", $0, executable.path] } ?? [executable.path]
        let argv = (prefix + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var child: pid_t = 0
        let failure = posix_spawn(&child, program, &actions, &attributes, argv, envp)
        if pipeEnds[1] >= 0 { close(pipeEnds[1]) }
        guard failure == 0 else {
            if pipeEnds[0] >= 0 { close(pipeEnds[0]) }
            throw TestSetupError("cannot start \(executable.path): \(String(cString: strerror(failure)))")
        }
        pid = child
        if pipeEnds[0] >= 0 { startPipeReader(pipeEnds[0]) }
    }

    deinit {
        if exitStatus == nil {
            kill(-pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Reads up to the first newline, then closes the pipe like `head -1` exiting.
    private func startPipeReader(_ descriptor: Int32) {
        let thread = Thread { [self] in
            var line: [UInt8] = []
            var byte: UInt8 = 0
            while read(descriptor, &byte, 1) == 1 {
                line.append(byte)
                if byte == UInt8(ascii: "\n") { break }
            }
            close(descriptor)
            pipeLock.withLock { pipedLine = String(decoding: line, as: UTF8.self) }
        }
        thread.start()
        pipeReader = thread
    }

    public var standardOutput: String {
        if case .pipeClosedAfterFirstLine = outputTarget { return pipeLock.withLock { pipedLine } }
        return (try? String(contentsOfFile: directory + "/stdout", encoding: .utf8)) ?? ""
    }
    public var standardError: String { (try? String(contentsOfFile: directory + "/stderr", encoding: .utf8)) ?? "" }

    /// Whether the leader has not exited yet (reaps it when it has).
    public var isRunning: Bool {
        guard exitStatus == nil else { return false }
        if Date().timeIntervalSince(lastLook) > 0.1 {
            lastLook = Date()
            descendants.formUnion(processesBelow(pid))
        }
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid { exitStatus = status; return false }
        return true
    }

    /// Sends `number` to the leader alone (mpirun decides what its ranks get).
    public func signal(_ number: Int32) { kill(pid, number) }

    /// Sends `number` to every process of the leader's group, as a terminal's Ctrl-C
    /// (SIGINT) does (mpirun's ranks are in groups of their own, so they are not in it).
    public func signalGroup(_ number: Int32) { kill(-pid, number) }

    /// Polls `condition` until it holds (true), or the leader ended or `timeout` passed (false).
    public func waitFor(timeout: Double, interval: Double = 0.005, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            if !isRunning { return condition() }
            Thread.sleep(forTimeInterval: interval)
        }
        return false
    }

    /// Waits for the leader's exit and for the rest of its group.
    ///
    /// Past `timeout` the whole group is sent SIGTERM, then SIGKILL, and the test fails
    /// (unless `hangIsFailure` is false: then `timedOut` says so). A death by a signal
    /// other than `expectSignal` fails the test, and so does a process of the group still
    /// alive 5 s after the leader ended (it is then killed).
    public func finish(timeout: Double, expectSignal: Int32? = nil, hangIsFailure: Bool = true,
                       file: StaticString = #filePath, line: UInt = #line) -> ProcessResult {
        let deadline = Date().addingTimeInterval(timeout)
        while isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.005) }
        let timedOut = isRunning
        if timedOut {
            kill(-pid, SIGTERM)
            let grace = Date().addingTimeInterval(5)
            while isRunning && Date() < grace { Thread.sleep(forTimeInterval: 0.01) }
            kill(-pid, SIGKILL)
            for descendant in descendants { kill(descendant, SIGKILL) }
            var status: Int32 = 0
            if exitStatus == nil, waitpid(pid, &status, 0) == pid { exitStatus = status }
        }
        let survivors = waitForJob(seconds: timedOut ? 1 : 5)
        if !survivors.isEmpty {
            kill(-pid, SIGKILL)
            for survivor in survivors { kill(survivor, SIGKILL) }
        }
        // The reader ends at the pipe's end of file, now that the group has gone.
        while let reader = pipeReader, !reader.isFinished, Date() < deadline.addingTimeInterval(5) {
            Thread.sleep(forTimeInterval: 0.005)
        }
        let raw = exitStatus ?? 0
        let signalled = (raw & 0x7f) != 0 && (raw & 0x7f) != 0x7f
        let result = ProcessResult(
            status: signalled ? -(raw & 0x7f) : (raw >> 8) & 0xff, signal: signalled ? raw & 0x7f : nil,
            standardOutput: standardOutput, standardError: standardError,
            seconds: Date().timeIntervalSince(start), timedOut: timedOut, survivors: survivors)
        if timedOut && hangIsFailure {
            XCTFail("timed out after \(Int(timeout)) s (a hang): \(command)\n\(result.transcript)", file: file, line: line)
        }
        if let signal = result.signal, signal != expectSignal, !timedOut {
            XCTFail("\(command) was killed by signal \(signal) (\(signalName(signal))), not an exit status\n\(result.transcript)",
                    file: file, line: line)
        }
        if !survivors.isEmpty {
            XCTFail("\(survivors.count) process(es) of the job outlived it (\(survivors)): \(command)", file: file, line: line)
        }
        return result
    }

    /// The live (not zombie) processes of the job, its group and every descendant seen,
    /// waited for up to `seconds` to end.
    private func waitForJob(seconds: Double) -> [pid_t] {
        let deadline = Date().addingTimeInterval(seconds)
        func alive() -> [pid_t] {
            processTable().filter { ($0.group == pid || descendants.contains($0.pid)) && $0.state != "Z" && $0.state != "X" }
                .map(\.pid).sorted()
        }
        var members = alive()
        while !members.isEmpty && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.02)
            members = alive()
        }
        return members
    }

    /// The processes whose parent is the leader and whose command is `name` (mpirun's ranks).
    public func childProcessIDs(named name: String) -> [pid_t] {
        processTable().filter { $0.parent == pid && $0.command == name }.map(\.pid)
    }
}

/// Runs a program to its end under a deadline (`ChildProcess.finish` says what fails the test).
@discardableResult
public func runProcess(_ executable: URL, _ arguments: [String], environment: [String: String] = childEnvironment(),
                       currentDirectory: String? = nil, standardInput: String? = nil,
                       standardOutput: OutputTarget = .captured, timeout: Double = 60, expectSignal: Int32? = nil,
                       hangIsFailure: Bool = true, file: StaticString = #filePath, line: UInt = #line) throws -> ProcessResult {
    let child = try ChildProcess(executable, arguments, environment: environment, currentDirectory: currentDirectory,
                                 standardInput: standardInput, standardOutput: standardOutput)
    return child.finish(timeout: timeout, expectSignal: expectSignal, hangIsFailure: hangIsFailure, file: file, line: line)
}

/// One row of /proc: enough to find a job's processes.
public struct ProcessEntry: Sendable {
    public let pid: pid_t
    public let command: String
    /// R, S, D, T (stopped), Z (zombie: ended, not yet reaped), ...
    public let state: Character
    public let parent: pid_t
    public let group: pid_t
}

/// The processes below `ancestor` (children, their children, ...).
func processesBelow(_ ancestor: pid_t) -> Set<pid_t> {
    let table = processTable()
    var found: Set<pid_t> = []
    var frontier: Set<pid_t> = [ancestor]
    while !frontier.isEmpty {
        let next = Set(table.filter { frontier.contains($0.parent) && !found.contains($0.pid) }.map(\.pid))
        found.formUnion(next)
        frontier = next
    }
    return found
}

/// Every process /proc shows (fields 2-5 of /proc/PID/stat).
public func processTable() -> [ProcessEntry] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return names.compactMap { name -> ProcessEntry? in
        guard let pid = pid_t(name), let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
              let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
        guard fields.count > 2, let state = fields[0].first, let parent = pid_t(fields[1]),
              let group = pid_t(fields[2]) else { return nil }
        return ProcessEntry(pid: pid, command: String(stat[stat.index(after: open)..<close]), state: state,
                            parent: parent, group: group)
    }
}

/// SIGSEGV, SIGTERM, ...
public func signalName(_ number: Int32) -> String {
    let names: [Int32: String] = [SIGHUP: "SIGHUP", SIGINT: "SIGINT", SIGQUIT: "SIGQUIT", SIGILL: "SIGILL",
                                  SIGTRAP: "SIGTRAP", SIGABRT: "SIGABRT", SIGBUS: "SIGBUS", SIGFPE: "SIGFPE",
                                  SIGKILL: "SIGKILL", SIGUSR1: "SIGUSR1", SIGSEGV: "SIGSEGV", SIGUSR2: "SIGUSR2",
                                  SIGPIPE: "SIGPIPE", SIGALRM: "SIGALRM", SIGTERM: "SIGTERM", SIGXFSZ: "SIGXFSZ"]
    return names[number] ?? "signal \(number)"
}

public struct TestSetupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
