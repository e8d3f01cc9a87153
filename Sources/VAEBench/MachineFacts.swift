import COpenBLAS
import Foundation
import VAECore

/// What a benchmark result must say about where it was measured.
public struct MachineFacts: Codable, Equatable, Sendable {
    public let host: String
    public let cpuModel: String
    public let onlineProcessors: Int
    /// CPUs this process may run on (affinity, cgroup limits).
    public let usableProcessors: Int
    /// 1, 5 and 15 minute load averages: other work on the machine while measuring.
    public let loadAverage: [Double]
    public let blasKernel: String
    public let blasThreads: Int
    public let blasConfig: String
    /// How start-up chose the kernel and the threads (nil when start-up did not run).
    public let blasKernelChoice: String?
    public let blasThreadChoice: String?

    public static func current() -> MachineFacts {
        let cpuInfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuInfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .flatMap { $0.split(separator: ":", maxSplits: 1).last }
            .map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown"
        return MachineFacts(
            host: ProcessInfo.processInfo.hostName, cpuModel: model,
            onlineProcessors: ProcessInfo.processInfo.processorCount,
            usableProcessors: usableCPUCount(),
            loadAverage: currentLoadAverage(),
            blasKernel: BLASLibrary.coreName, blasThreads: BLASLibrary.threadCount,
            blasConfig: openblas_get_config().map { String(cString: $0) } ?? "unknown",
            blasKernelChoice: BLASKernelChoice.applied?.reason,
            blasThreadChoice: BLASThreadChoice.applied?.reason)
    }
}

/// /proc/loadavg's three load averages (empty where there is no /proc).
public func currentLoadAverage() -> [Double] {
    let text = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? ""
    return text.split(separator: " ").prefix(3).compactMap { Double($0) }
}

/// This process's peak resident set size in bytes (VmHWM of /proc/self/status), nil without /proc.
public func peakResidentBytes() -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        if fields.count >= 2, let kilobytes = Int(fields[1]) { return kilobytes * 1024 }
    }
    return nil
}

/// CPU seconds (user + system, all threads) this process has used.
public func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) * 1e-6 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}
