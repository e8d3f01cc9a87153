import Foundation
import VAECore
import VAEParallel

/// What every `vae-dist` command does before anything else (and before MPI_Init).
///
/// Make sure OpenBLAS runs the best kernel this CPU supports and a sensible number of
/// threads per rank (oneDNN's OpenMP threads follow the same count). The rules are
/// `BLASKernelChoice` and `BLASThreadChoice` (VAECore);
/// this is only their effect on the process.
enum StartUp {
    static func configureBLAS() {
        let environment = ProcessInfo.processInfo.environment
        let flags = cpuFlags(fromCPUInfo: (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? "")
        let runningCore = BLASLibrary.coreName
        let kernel = BLASKernelChoice.decide(runningCore: runningCore, cpuFlags: flags, environment: environment)
        if case let .reexec(coreType) = kernel.action {
            reexecute(coreType: coreType, detected: runningCore)
            // Only reached when exec failed: go on with the kernel we have.
            warn("could not restart with OPENBLAS_CORETYPE=\(coreType) (\(String(cString: strerror(errno)))); "
                 + "running OpenBLAS's \(runningCore) kernel")
            BLASKernelChoice.applied = .init(action: .keep, reason: "restart with \(coreType) failed", isWarning: true)
        } else {
            if kernel.isWarning { warn(kernel.reason) }
            BLASKernelChoice.applied = kernel
        }
        // The marker has done its job; children of this process start with a clean slate.
        unsetenv(BLASKernelChoice.reexecMarker)

        let threads = BLASThreadChoice.decide(environment: environment,
                                              onlineCPUs: ProcessInfo.processInfo.processorCount,
                                              usableCPUs: usableCPUCount())
        if let count = threads.threads { BLASLibrary.setThreadCount(count) }
        OpenMPThreads.follow(threads, environment: environment)
        BLASThreadChoice.applied = threads
    }

    /// Replaces this process with the same binary and arguments, OPENBLAS_CORETYPE set.
    ///
    /// Returns only if execv fails.
    private static func reexecute(coreType: String, detected: String) {
        setenv(BLASKernelChoice.openBLASVariable, coreType, 1)
        setenv(BLASKernelChoice.reexecMarker, detected, 1)
        let arguments = CommandLine.arguments.map { strdup($0) } + [nil]
        execv("/proc/self/exe", arguments)
        let savedErrno = errno
        arguments.forEach { free($0) }
        unsetenv(BLASKernelChoice.openBLASVariable)
        errno = savedErrno
    }

    private static func warn(_ message: String) {
        Console.printError("vae-dist: warning: BLAS kernel: \(message)")
    }
}
