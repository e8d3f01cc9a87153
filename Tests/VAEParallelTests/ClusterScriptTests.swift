import Foundation
import XCTest
import VAETestSupport
@testable import VAECore
import VAEIO
@testable import VAEParallel

/// cluster/: the job scripts parse, and run here under a fake scheduler: Slurm variables
/// and stand-ins for `srun` (mpirun on this machine) and `scontrol` (records the call).
final class ClusterScriptTests: XCTestCase {
    private var scratch = ""
    private var data = ""
    private var stubs = ""

    /// cluster/ of this checkout, found from this source file.
    private static let clusterDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("cluster").path

    override func setUpWithError() throws {
        scratch = try makeScratchDirectory(self)
        data = scratch + "/data.h5"
        try writeDataFile(data, features: syntheticFeatures(rows: 37, features: 10, seed: 21), rows: 37)
        stubs = scratch + "/bin"
        try FileManager.default.createDirectory(atPath: stubs, withIntermediateDirectories: true)
        let mpirun = try mpirunExecutable().path
        try writeExecutable(stubs + "/srun", """
            #!/bin/bash
            # Stand-in for Slurm's srun: drop its options, run the command under mpirun here.
            while [[ ${1:-} == -* ]]; do shift; done
            exec \(mpirun) -n "${SLURM_NTASKS:-1}" --oversubscribe --bind-to none "$@"
            """)
        try writeExecutable(stubs + "/scontrol", """
            #!/bin/bash
            echo "scontrol $*" >> "\(scratch)/scontrol.log"
            """)
    }

    private func writeExecutable(_ path: String, _ text: String) throws {
        try (text + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
    }

    private func slurmEnvironment(run: String, epochs: Int) throws -> [String: String] {
        var configuration = smallConfiguration(epochs: epochs)
        configuration.architecture.hiddenSizes = [48]
        let modelOptions = trainArguments(configuration, data: data, out: run).drop { $0 != "--hidden" }
        return childEnvironment([
            "PATH": stubs + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"),
            "SLURM_JOB_ID": "4242", "SLURM_NTASKS": "2", "SLURM_SUBMIT_DIR": scratch,
            "VAE_DIST": try vaeDistBinary().path, "VAE_DIST_DATA": data, "VAE_DIST_RUN_DIR": run,
            "VAE_DIST_ARGS": modelOptions.joined(separator: " "),
        ])
    }

    func testEveryScriptParses() throws {
        let scripts = fileNames(Self.clusterDirectory).filter { $0.hasSuffix(".sh") || $0.hasSuffix(".sbatch") }
        XCTAssertEqual(scripts, ["pbs.sh", "slurm.sbatch"])
        for script in scripts {
            let result = try runProcess(URL(fileURLWithPath: "/bin/bash"), ["-n", Self.clusterDirectory + "/" + script],
                                        environment: childEnvironment(), timeout: 10)
            XCTAssertEqual(result.status, 0, "\(script): \(result.standardError)")
        }
    }

    func testSlurmScriptTrainsAndAResubmissionResumes() throws {
        let script = Self.clusterDirectory + "/slurm.sbatch"
        let first = try runProcess(URL(fileURLWithPath: "/bin/bash"), [script],
                                   environment: try slurmEnvironment(run: "run", epochs: 2), timeout: 60)
        XCTAssertEqual(first.status, 0, first.standardOutput + first.standardError)
        XCTAssertTrue(first.standardOutput.contains("vae-dist train: 2 ranks"), first.standardOutput)
        XCTAssertEqual(try readMetrics(scratch + "/run").map(\.epoch), [1, 2])

        // The same job again with more epochs: the script sees the checkpoint and resumes.
        let second = try runProcess(URL(fileURLWithPath: "/bin/bash"), [script],
                                    environment: try slurmEnvironment(run: "run", epochs: 3), timeout: 60)
        XCTAssertEqual(second.status, 0, second.standardOutput + second.standardError)
        XCTAssertTrue(second.standardOutput.contains("has a checkpoint: resuming"), second.standardOutput)
        XCTAssertTrue(second.standardOutput.contains("resume   from epoch 2"), second.standardOutput)
        XCTAssertEqual(try finalParameters(scratch + "/run").epoch, 3)
    }

    /// `sbatch cluster/slurm.sbatch --epochs 1`: the script's arguments reach `vae-dist train`,
    /// after VAE_DIST_ARGS (so they win), and the 50-epoch default is not added.
    func testSlurmScriptPassesItsArgumentsToTrain() throws {
        let script = Self.clusterDirectory + "/slurm.sbatch"
        let result = try runProcess(URL(fileURLWithPath: "/bin/bash"), [script, "--epochs", "1", "--seed", "7"],
                                    environment: try slurmEnvironment(run: "run", epochs: 3), timeout: 60)
        XCTAssertEqual(result.status, 0, result.standardOutput + result.standardError)
        let command = try XCTUnwrap(result.standardOutput.split(separator: "\n").first { $0.hasPrefix("vae-dist job: srun") })
        XCTAssertTrue(command.hasSuffix("--epochs 1 --seed 7"), String(command))
        XCTAssertFalse(command.contains("--epochs 50"), String(command))
        XCTAssertEqual(try readMetrics(scratch + "/run").map(\.epoch), [1])
        XCTAssertEqual(try finalParameters(scratch + "/run").configuration.seed, 7)
    }

    /// The time-limit warning (USR1 to the batch script): the ranks checkpoint and stop, the
    /// script requeues the job, and the requeued job finishes it as if never interrupted.
    func testSlurmTimeLimitWarningRequeuesAndTheRequeuedJobFinishesExactly() throws {
        let script = Self.clusterDirectory + "/slurm.sbatch"
        let job = try ChildProcess(URL(fileURLWithPath: "/bin/bash"), [script],
                                        environment: try slurmEnvironment(run: "run", epochs: 100))
        XCTAssertTrue(job.waitFor(timeout: 60) { metricsLineCount(scratch + "/run") >= 1 }, job.standardError)
        job.signal(SIGUSR1)
        let stopped = job.finish(timeout: 30)
        XCTAssertEqual(stopped.status, 75, stopped.standardOutput + stopped.standardError)
        XCTAssertTrue(stopped.standardOutput.contains("requeueing job 4242"), stopped.standardOutput)
        XCTAssertEqual(try String(contentsOfFile: scratch + "/scontrol.log", encoding: .utf8), "scontrol requeue 4242\n")
        XCTAssertLessThan(try Checkpoint.read(try CheckpointLocation.resolve(scratch + "/run").path).epoch, 100)

        let requeued = try runProcess(URL(fileURLWithPath: "/bin/bash"), [script],
                                      environment: try slurmEnvironment(run: "run", epochs: 100), timeout: 60)
        XCTAssertEqual(requeued.status, 0, requeued.standardOutput + requeued.standardError)
        let straight = try runProcess(URL(fileURLWithPath: "/bin/bash"), [script],
                                      environment: try slurmEnvironment(run: "straight", epochs: 100), timeout: 60)
        XCTAssertEqual(straight.status, 0, straight.standardError)
        let a = try finalParameters(scratch + "/straight"), b = try finalParameters(scratch + "/run")
        XCTAssertEqual(b.epoch, 100)
        XCTAssertEqual(b.parameters.map(\.bitPattern), a.parameters.map(\.bitPattern))
    }

    func testPBSScriptTrainsOnTheNodeFileSlots() throws {
        try "localhost\nlocalhost\n".write(toFile: scratch + "/nodefile", atomically: true, encoding: .utf8)
        var environment = try slurmEnvironment(run: "run", epochs: 2)
        environment = environment.filter { !$0.key.hasPrefix("SLURM_") }
        environment["PBS_NODEFILE"] = scratch + "/nodefile"
        environment["PBS_O_WORKDIR"] = scratch
        environment["PBS_JOBID"] = "77.server"
        environment["VAE_DIST_MPIRUN_ARGS"] = "--oversubscribe --bind-to none"
        let result = try runProcess(URL(fileURLWithPath: "/bin/bash"), [Self.clusterDirectory + "/pbs.sh"],
                                    environment: environment, timeout: 60)
        XCTAssertEqual(result.status, 0, result.standardOutput + result.standardError)
        XCTAssertTrue(result.standardOutput.contains("vae-dist train: 2 ranks"), result.standardOutput)
        XCTAssertEqual(try finalParameters(scratch + "/run").epoch, 2)
    }
}
