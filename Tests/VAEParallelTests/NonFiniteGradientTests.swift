import XCTest
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
            let loss = message.split(separator: " ").first { Double($0.trimmingCharacters(in: [","])) != nil }
            XCTAssertTrue(loss.flatMap { Double($0.trimmingCharacters(in: [","])) }?.isFinite == true,
                          "the loss must be finite: \(message)", file: file, line: line)
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
