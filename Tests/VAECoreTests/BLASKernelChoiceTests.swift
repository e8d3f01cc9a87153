import VAECore
import XCTest

/// The start-up choice of the OpenBLAS kernel and thread count: pure functions of the
/// running kernel's name, the CPU flags and the environment.
final class BLASKernelChoiceTests: XCTestCase {
    private let avx512: Set<String> = ["sse2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq"]
    private let avx2: Set<String> = ["sse2", "avx", "avx2", "fma"]
    private let sse: Set<String> = ["sse2", "sse3"]

    func testBestCoreTypeFollowsTheWidestVectorUnits() {
        XCTAssertEqual(BLASKernelChoice.bestCoreType(cpuFlags: avx512), "SKYLAKEX")
        XCTAssertEqual(BLASKernelChoice.bestCoreType(cpuFlags: avx2), "HASWELL")
        XCTAssertEqual(BLASKernelChoice.bestCoreType(cpuFlags: ["avx"]), "SANDYBRIDGE")
        XCTAssertNil(BLASKernelChoice.bestCoreType(cpuFlags: sse))
        // AVX-512 without BW/VL/DQ (Knights Landing) has no SkylakeX kernel.
        XCTAssertEqual(BLASKernelChoice.bestCoreType(cpuFlags: avx2.union(["avx512f", "avx512cd"])), "HASWELL")
    }

    func testWeakKernelOnAVX512ReExecutesWithSkylakeX() {
        for weak in ["Prescott", "Nehalem", "Core2", "Sandybridge", "Haswell", "Zen"] {
            let decision = BLASKernelChoice.decide(runningCore: weak, cpuFlags: avx512, environment: [:])
            XCTAssertEqual(decision.action, .reexec(coreType: "SKYLAKEX"), weak)
        }
    }

    func testWeakKernelOnAVX2ReExecutesWithHaswell() {
        for weak in ["Prescott", "Core2", "Sandybridge"] {
            let decision = BLASKernelChoice.decide(runningCore: weak, cpuFlags: avx2, environment: [:])
            XCTAssertEqual(decision.action, .reexec(coreType: "HASWELL"), weak)
        }
    }

    func testKernelOfTheBestClassIsKept() {
        for good in ["SkylakeX", "Cooperlake", "SapphireRapids"] {
            XCTAssertEqual(BLASKernelChoice.decide(runningCore: good, cpuFlags: avx512, environment: [:]).action, .keep, good)
        }
        XCTAssertEqual(BLASKernelChoice.decide(runningCore: "Zen", cpuFlags: avx2, environment: [:]).action, .keep)
        XCTAssertEqual(BLASKernelChoice.decide(runningCore: "Prescott", cpuFlags: sse, environment: [:]).action, .keep)
    }

    func testUnknownKernelNameIsKept() {
        let decision = BLASKernelChoice.decide(runningCore: "NeoverseN1", cpuFlags: avx512, environment: [:])
        XCTAssertEqual(decision.action, .keep)
    }

    func testUsersOwnCoreTypeIsRespected() {
        let decision = BLASKernelChoice.decide(runningCore: "Prescott", cpuFlags: avx512,
                                               environment: ["OPENBLAS_CORETYPE": "PRESCOTT"])
        XCTAssertEqual(decision.action, .keep)
        XCTAssertTrue(decision.reason.contains("set by the user"), decision.reason)
    }

    func testAutoOverridesTheUsersCoreType() {
        let decision = BLASKernelChoice.decide(
            runningCore: "Prescott", cpuFlags: avx512,
            environment: ["OPENBLAS_CORETYPE": "PRESCOTT", "VAE_DIST_BLAS_CORETYPE": "auto"])
        XCTAssertEqual(decision.action, .reexec(coreType: "SKYLAKEX"))
    }

    func testOffKeepsAWeakKernel() {
        let decision = BLASKernelChoice.decide(runningCore: "Prescott", cpuFlags: avx512,
                                               environment: ["VAE_DIST_BLAS_CORETYPE": "OFF"])
        XCTAssertEqual(decision.action, .keep)
    }

    func testNamedCoreTypeIsRunEvenWhenWeaker() {
        let decision = BLASKernelChoice.decide(runningCore: "Cooperlake", cpuFlags: avx512,
                                               environment: ["VAE_DIST_BLAS_CORETYPE": "haswell"])
        XCTAssertEqual(decision.action, .reexec(coreType: "HASWELL"))
        let running = BLASKernelChoice.decide(runningCore: "Haswell", cpuFlags: avx512,
                                              environment: ["VAE_DIST_BLAS_CORETYPE": "Haswell"])
        XCTAssertEqual(running.action, .keep)
    }

    func testUnknownNamedCoreTypeWarnsAndKeeps() {
        let decision = BLASKernelChoice.decide(runningCore: "Cooperlake", cpuFlags: avx512,
                                               environment: ["VAE_DIST_BLAS_CORETYPE": "pentium9"])
        XCTAssertEqual(decision.action, .keep)
        XCTAssertTrue(decision.isWarning)
    }

    func testReExecutedProcessNeverReExecutesAgain() {
        // Even if OpenBLAS ignored the requested kernel: the marker stops the loop, with a warning.
        let ignored = BLASKernelChoice.decide(
            runningCore: "Prescott", cpuFlags: avx512,
            environment: ["OPENBLAS_CORETYPE": "SKYLAKEX", "VAE_DIST_BLAS_REEXEC": "Prescott"])
        XCTAssertEqual(ignored.action, .keep)
        XCTAssertTrue(ignored.isWarning)
        let honoured = BLASKernelChoice.decide(
            runningCore: "SkylakeX", cpuFlags: avx512,
            environment: ["OPENBLAS_CORETYPE": "SKYLAKEX", "VAE_DIST_BLAS_REEXEC": "Prescott",
                          "VAE_DIST_BLAS_CORETYPE": "auto"])
        XCTAssertEqual(honoured.action, .keep)
        XCTAssertFalse(honoured.isWarning)
        XCTAssertTrue(honoured.reason.contains("had detected Prescott"), honoured.reason)
    }

    func testCPUFlagsAreReadFromTheFirstFlagsLine() {
        let text = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse2 avx2 fma\n\nprocessor\t: 1\nflags\t\t: fpu\n"
        XCTAssertEqual(cpuFlags(fromCPUInfo: text), ["fpu", "sse2", "avx2", "fma"])
        XCTAssertEqual(cpuFlags(fromCPUInfo: "Features\t: fp asimd\n"), [])
    }

    // MARK: Threads

    func testUserThreadCountIsKept() {
        for name in BLASThreadChoice.userVariables {
            let decision = BLASThreadChoice.decide(environment: [name: "3"], onlineCPUs: 8, usableCPUs: 8)
            XCTAssertNil(decision.threads, name)
        }
    }

    func testTheRanksOfANodeShareItsCPUsUnlessTheUserSaysOtherwise() {
        // (launcher environment, online CPUs, usable CPUs) -> threads per process
        let cases: [([String: String], Int, Int, Int)] = [
            ([:], 2, 2, 2),                                      // a plain process: every CPU
            ([:], 64, 64, 64),
            ([:], 2, 1, 1),                                      // taskset -c 0
            (["OMPI_COMM_WORLD_LOCAL_SIZE": "2"], 2, 2, 1),      // mpirun -n 2, unbound
            (["OMPI_COMM_WORLD_LOCAL_SIZE": "2"], 2, 1, 1),      // mpirun -n 2 --bind-to core
            (["OMPI_COMM_WORLD_LOCAL_SIZE": "4"], 16, 16, 4),
            (["OMPI_COMM_WORLD_LOCAL_SIZE": "4"], 16, 8, 2),     // bound to a socket of 8 with 3 others
            (["SLURM_NTASKS_PER_NODE": "2"], 16, 16, 8),
            (["MPI_LOCALNRANKS": "8"], 2, 2, 1),                 // oversubscribed: never 0
            (["SLURM_STEP_NUM_TASKS": "64", "SLURM_PROCID": "3"], 64, 64, 1),  // srun, ranks per node unknown
            (["PMIX_RANK": "0"], 16, 16, 1),
        ]
        for (environment, online, usable, expected) in cases {
            let decision = BLASThreadChoice.decide(environment: environment, onlineCPUs: online, usableCPUs: usable)
            XCTAssertEqual(decision.threads, expected, "\(environment), \(online) online, \(usable) usable CPUs")
            XCTAssertTrue(decision.reason.contains("OPENBLAS_NUM_THREADS"), decision.reason)
        }
    }

}
