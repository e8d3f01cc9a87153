import XCTest
import VAETestSupport
@testable import VAECore
import VAEIO
@testable import VAEParallel

/// A non-finite gradient under a finite loss (the backward pass can overflow where the
/// forward does not) ends or skips the step like a non-finite loss, on both of the
/// trainer's paths: the sum of squares before the update (`--clip`, `--on-nonfinite
/// skip`) and, by default, the optimizer's own pass.
final class NonFiniteGradientTests: XCTestCase {
    /// A one-process trainer of the small model on 16 all-zero rows whose decoder overflows
    /// only backwards: hidden outputs of 3e38 and zero output weights give logits of 0 (a
    /// finite loss), while each output weight's gradient sums 8 rows of 0.5 x 3e38 = Inf.
    private func overflowingTrainer(clip: Float = 0, policy: NonFinitePolicy = .stop) throws -> Trainer {
        let scratch = try makeScratchDirectory(self)
        let path = scratch + "/zeros.h5"
        try writeDataFile(path, features: [Float](repeating: 0, count: 16 * 10), rows: 16)
        var configuration = smallConfiguration(epochs: 1)
        configuration.clipNorm = clip
        let source = try InMemoryMinibatchSource(dataFile: try DataFile.open(path), bernoulli: true)
        let trainer = try Trainer(configuration: configuration, communicator: SingleProcessCommunicator(), trainData: source)
        trainer.nonFinitePolicy = policy
        let weights = try XCTUnwrap(trainer.layout.tensor(named: "decoder.out.weight"))
        let hiddenBias = try XCTUnwrap(trainer.layout.tensor(named: "decoder.fc1.bias"))
        (trainer.parameters.pointer + weights.offset).update(repeating: 0, count: weights.count)
        (trainer.parameters.pointer + hiddenBias.offset).update(repeating: 3e38, count: hiddenBias.count)
        return trainer
    }

    private func assertDivergedAtFirstStep(_ trainer: Trainer, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try trainer.trainEpoch(0), file: file, line: line) { error in
            let message = String(describing: error)
            XCTAssertTrue(error is NonFiniteTraining, message, file: file, line: line)
            XCTAssertTrue(message.hasPrefix("training diverged at step 1 (epoch 1, step 1 of 2): the loss is "),
                          message, file: file, line: line)
            XCTAssertTrue(message.contains(", first non-finite gradient in decoder.out.weight"), message,
                          file: file, line: line)
            let loss = message.components(separatedBy: "the loss is ").last?.split(separator: ",").first
            XCTAssertTrue(loss.flatMap { Double($0) }?.isFinite == true, "the loss must be finite: \(message)",
                          file: file, line: line)
        }
    }

    func testByDefaultTheOptimizersPassStopsTheRun() throws {
        assertDivergedAtFirstStep(try overflowingTrainer())
    }

    func testWithClippingTheRunStopsBeforeTheUpdate() throws {
        let trainer = try overflowingTrainer(clip: 1)
        let before = trainer.parameters.array
        assertDivergedAtFirstStep(trainer)
        XCTAssertEqual(trainer.parameters.array.map(\.bitPattern), before.map(\.bitPattern), "no update was applied")
        XCTAssertEqual(trainer.step, 0)
    }

    /// Under `mpirun -n 2` on one node (the shared-memory exchange, whose default step has
    /// no synchronize between the reduction and the update): each rank's optimizer checks
    /// its range, the verdicts are shared, and both ranks stop at the same step with the
    /// same line. The bad parameters come from an edited checkpoint.
    func testBothRanksStopOnANonFiniteGradientFoundByTheOptimizers() throws {
        let scratch = try makeScratchDirectory(self)
        let data = scratch + "/zeros.h5"
        try writeDataFile(data, features: [Float](repeating: 0, count: 16 * 10), rows: 16)
        let out = scratch + "/run"
        _ = try trainUnderMPI(ranks: 2, smallConfiguration(epochs: 1), data: data, out: out)
        let checkpoint = out + "/checkpoint-epoch-0001.h5"
        let file = try HDF5File.open(checkpoint, writable: true)
        let model = try file.root().openGroup("model")
        try model.openDataset("decoder.out.weight").write([Float](repeating: 0, count: 10 * 6))
        try model.openDataset("decoder.fc1.bias").write([Float](repeating: 3e38, count: 6))
        try file.close()
        let resealed = try runProcess(try vaeDistBinary(), ["reseal", checkpoint], environment: childEnvironment(), timeout: 20)
        XCTAssertEqual(resealed.status, 0, resealed.standardError)
        let before = try Data(contentsOf: URL(fileURLWithPath: checkpoint))

        let result = try runProcess(try mpirunExecutable(), try mpirunArguments(ranks: 2,
            trainArguments(smallConfiguration(epochs: 2), data: data, out: out) + ["--resume", "latest"]),
                                    environment: childEnvironment(), timeout: 60)
        XCTAssertEqual(result.status, 1, result.standardError)
        let lines = result.errorLines(containing: "vae-dist: error: training diverged at step 3 (epoch 2, step 1 of 2): the loss is ")
        XCTAssertEqual(lines.count, 1, "one line for the job:\n\(result.standardError)")
        XCTAssertEqual(Set(lines).count, 1, "\(lines)")
        XCTAssertTrue(lines.allSatisfy { $0.contains(", first non-finite gradient in decoder.out.weight") }, "\(lines)")
        XCTAssertFalse(lines.contains { $0.contains("the loss is nan") || $0.contains("the loss is inf") }, "\(lines)")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: checkpoint)), before)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/checkpoint-epoch-0002.h5"))
    }

    func testSkipLeavesTheParametersAndCountsBothSteps() throws {
        let trainer = try overflowingTrainer(policy: .skip)
        let before = trainer.parameters.array
        let terms = try trainer.trainEpoch(0)
        XCTAssertEqual(trainer.epochProgress.skippedSteps, 2)
        XCTAssertEqual(terms.rows, 0)
        XCTAssertEqual(trainer.step, 0)
        XCTAssertEqual(trainer.parameters.array.map(\.bitPattern), before.map(\.bitPattern))
    }
}
