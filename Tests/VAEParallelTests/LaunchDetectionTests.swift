import VAEParallel
import XCTest
import VAETestSupport

/// `makeCommunicator` picks MPI exactly when a launcher started the process.
final class LaunchDetectionTests: XCTestCase {
    func testPlainProcessIsSingle() {
        XCTAssertEqual(Launch.detect(in: ["PATH": "/usr/bin", "HOME": "/root"]), .singleProcess)
    }

    func testOpenMPIMpirunIsMPIEvenWithOneRank() {
        XCTAssertEqual(Launch.detect(in: ["OMPI_COMM_WORLD_SIZE": "1", "OMPI_COMM_WORLD_RANK": "0"]),
                       .mpi(launcher: "Open MPI mpirun", expectedSize: 1))
    }

    func testMpirunInsideASlurmJobTrustsMpirunsSize() {
        // mpirun launches its daemons with srun, so the ranks inherit a step of 2 tasks.
        let environment = ["OMPI_COMM_WORLD_SIZE": "8", "SLURM_PROCID": "0", "SLURM_STEP_NUM_TASKS": "2"]
        XCTAssertEqual(Launch.detect(in: environment), .mpi(launcher: "Open MPI mpirun", expectedSize: 8))
    }

    func testHydraAndPMI2AreMPI() {
        XCTAssertEqual(Launch.detect(in: ["PMI_RANK": "3", "PMI_SIZE": "4"]),
                       .mpi(launcher: "PMI launcher", expectedSize: 4))
    }

    func testSrunWithPMIxIsMPI() {
        XCTAssertEqual(Launch.detect(in: ["PMIX_RANK": "1", "SLURM_PROCID": "1", "SLURM_STEP_NUM_TASKS": "4"]),
                       .mpi(launcher: "PMIx launcher", expectedSize: 4))
    }

    func testMultiTaskSrunStepIsMPI() {
        XCTAssertEqual(Launch.detect(in: ["SLURM_PROCID": "2", "SLURM_STEP_NUM_TASKS": "4"]),
                       .mpi(launcher: "Slurm srun", expectedSize: 4))
    }

    func testPlainCommandInABatchScriptIsSingle() {
        // sbatch --ntasks=8 sets job-level variables; the script itself is one process.
        let environment = ["SLURM_PROCID": "0", "SLURM_NTASKS": "8", "SLURM_JOB_ID": "42"]
        XCTAssertEqual(Launch.detect(in: environment), .singleProcess)
    }

    func testSingleTaskSrunIsSingle() {
        XCTAssertEqual(Launch.detect(in: ["SLURM_PROCID": "0", "SLURM_STEP_NUM_TASKS": "1"]), .singleProcess)
    }

    func testWithoutLauncherTheCommunicatorIsSingleProcess() throws {
        let communicator = try makeCommunicator(environment: [:])
        XCTAssertTrue(communicator is SingleProcessCommunicator)
    }
}
