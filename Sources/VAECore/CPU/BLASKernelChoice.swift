import Foundation

/// Which OpenBLAS kernel ("core type") this process should run, decided at start-up.
///
/// Debian's dynamic-arch OpenBLAS does not recognise some (virtual) CPUs and falls back
/// to its SSE3 "Prescott" kernels: ~32 GFLOP/s of SGEMM on one core where the AVX-512
/// kernels reach ~150. OpenBLAS reads OPENBLAS_CORETYPE only when it loads, so the CLI
/// asks this function first thing and, on `.reexec`, executes itself again with the
/// variable set (before MPI_Init). The rule, first match wins:
///
/// 1. `VAE_DIST_BLAS_REEXEC` is set: this process IS the re-execution; keep (no loops).
/// 2. `VAE_DIST_BLAS_CORETYPE=off`: keep whatever OpenBLAS chose.
/// 3. `VAE_DIST_BLAS_CORETYPE=<name>` (an OpenBLAS core type, any case): run that kernel;
///    re-exec unless it already runs.
/// 4. `VAE_DIST_BLAS_CORETYPE=auto`: the automatic choice below, even over a user's own
///    OPENBLAS_CORETYPE (this is how a test forces the re-exec path on a good CPU).
/// 5. unset, and the user set OPENBLAS_CORETYPE: keep (the user's choice is respected).
/// 6. unset: automatic. The best kernel class the CPU's flags allow is SKYLAKEX for
///    AVX-512 (F, BW, VL, DQ), HASWELL for AVX2 + FMA, SANDYBRIDGE for AVX; when the
///    running kernel belongs to a lower class, re-exec with the best. A kernel of the
///    same class (Cooperlake, Zen, ...) or a name this table does not know is kept.
public enum BLASKernelChoice {
    public static let overrideVariable = "VAE_DIST_BLAS_CORETYPE"
    /// Set in the re-executed process (to the kernel OpenBLAS had detected): the loop guard.
    public static let reexecMarker = "VAE_DIST_BLAS_REEXEC"
    public static let openBLASVariable = "OPENBLAS_CORETYPE"

    /// What the CLI's start-up decided for this process; nil when it did not run (tests).
    ///
    /// The banner and `vae-dist bench` report it. Written once, before any thread starts.
    public nonisolated(unsafe) static var applied: Decision?

    public enum Action: Equatable, Sendable {
        case keep
        /// Execute this binary again with OPENBLAS_CORETYPE set to this name.
        case reexec(coreType: String)
    }

    public struct Decision: Equatable, Sendable {
        public var action: Action
        /// One line for the banner and bench results: how the kernel was chosen.
        public var reason: String
        /// The user should see `reason` on standard error (a request that cannot be honoured).
        public var isWarning: Bool

        public init(action: Action, reason: String, isWarning: Bool = false) {
            self.action = action
            self.reason = reason
            self.isWarning = isWarning
        }
    }

    /// Instruction-set classes of OpenBLAS's x86 kernels: 3 AVX-512, 2 AVX2+FMA, 1 AVX, 0 SSE.
    ///
    /// Names as `openblas_get_corename()` prints them (OpenBLAS 0.3.21, dynamic arch).
    static let kernelClass: [String: Int] = [
        "skylakex": 3, "cooperlake": 3, "sapphirerapids": 3,
        "haswell": 2, "zen": 2, "excavator": 2,
        "sandybridge": 1, "bulldozer": 1, "piledriver": 1, "steamroller": 1,
        "katmai": 0, "coppermine": 0, "northwood": 0, "prescott": 0, "banias": 0, "atom": 0,
        "core2": 0, "penryn": 0, "dunnington": 0, "nehalem": 0, "athlon": 0, "opteron": 0,
        "opteron_sse3": 0, "barcelona": 0, "nano": 0, "bobcat": 0,
    ]

    /// The OpenBLAS core type of the best kernel class the CPU supports.
    ///
    /// nil when it has nothing better than SSE (or is not x86: no such flags).
    public static func bestCoreType(cpuFlags: Set<String>) -> String? {
        if ["avx512f", "avx512bw", "avx512vl", "avx512dq"].allSatisfy(cpuFlags.contains) { return "SKYLAKEX" }
        if cpuFlags.contains("avx2") && cpuFlags.contains("fma") { return "HASWELL" }
        if cpuFlags.contains("avx") { return "SANDYBRIDGE" }
        return nil
    }

    /// The instruction-set class of an OpenBLAS kernel name; nil for a name not in the table.
    public static func instructionClass(ofCore name: String) -> Int? {
        kernelClass[name.lowercased()]
    }

    public static func decide(runningCore: String, cpuFlags: Set<String>, environment: [String: String]) -> Decision {
        let userCoreType = environment[openBLASVariable].flatMap { $0.isEmpty ? nil : $0 }
        if let detected = environment[reexecMarker] {
            let requested = userCoreType ?? "?"
            if runningCore.lowercased() != requested.lowercased() {
                return Decision(action: .keep, reason: "OpenBLAS runs \(runningCore) although OPENBLAS_CORETYPE=\(requested) "
                                + "was set (OpenBLAS had detected \(detected))", isWarning: true)
            }
            return Decision(action: .keep, reason: "selected at start-up with OPENBLAS_CORETYPE=\(requested) "
                            + "(OpenBLAS had detected \(detected))")
        }

        let request = (environment[overrideVariable] ?? "").trimmingCharacters(in: .whitespaces).lowercased()
        switch request {
        case "off":
            return Decision(action: .keep, reason: "as OpenBLAS detected it (\(overrideVariable)=off)")
        case "auto":
            return automatic(runningCore: runningCore, cpuFlags: cpuFlags,
                             how: "\(overrideVariable)=auto" + (userCoreType.map { ", over OPENBLAS_CORETYPE=\($0)" } ?? ""))
        case "":
            if let userCoreType {
                return Decision(action: .keep, reason: "OPENBLAS_CORETYPE=\(userCoreType) set by the user")
            }
            return automatic(runningCore: runningCore, cpuFlags: cpuFlags, how: "auto")
        default:
            guard instructionClass(ofCore: request) != nil else {
                let known = kernelClass.keys.sorted().joined(separator: ", ")
                return Decision(action: .keep, reason: "\(overrideVariable)=\(request) is not an OpenBLAS core type "
                                + "(known: \(known)); kept \(runningCore)", isWarning: true)
            }
            if runningCore.lowercased() == request {
                return Decision(action: .keep, reason: "\(overrideVariable)=\(request), already running")
            }
            return Decision(action: .reexec(coreType: request.uppercased()),
                            reason: "\(overrideVariable)=\(request) (OpenBLAS had detected \(runningCore))")
        }
    }

    private static func automatic(runningCore: String, cpuFlags: Set<String>, how: String) -> Decision {
        guard let best = bestCoreType(cpuFlags: cpuFlags), let bestClass = instructionClass(ofCore: best) else {
            return Decision(action: .keep, reason: "as OpenBLAS detected it (\(how): no AVX kernel to prefer on this CPU)")
        }
        guard let running = instructionClass(ofCore: runningCore) else {
            return Decision(action: .keep, reason: "as OpenBLAS detected it (\(how): kernel \(runningCore) not in the table)")
        }
        if running >= bestClass {
            return Decision(action: .keep, reason: "as OpenBLAS detected it (\(how): already the best class for this CPU)")
        }
        return Decision(action: .reexec(coreType: best), reason: "\(how): \(runningCore) is weaker than \(best) on this CPU")
    }
}

/// The x86 feature flags of the first processor in /proc/cpuinfo's text.
///
/// Read from its "flags : fpu vme ..." line; empty when there is no such line (another architecture).
public func cpuFlags(fromCPUInfo text: String) -> Set<String> {
    for line in text.split(separator: "\n") where line.hasPrefix("flags") {
        guard let colon = line.firstIndex(of: ":") else { continue }
        return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
    }
    return []
}
