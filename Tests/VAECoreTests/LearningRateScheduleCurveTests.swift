import XCTest
@testable import VAECore

/// `--lr-schedule cosine|step` and `--validation-fraction`'s split: pure functions of the step
/// and of (seed, rows).
final class LearningRateScheduleCurveTests: XCTestCase {
    private func configuration(_ schedule: LearningRateSchedule?, warmup: Double? = nil) -> TrainingConfiguration {
        var configuration = TrainingConfiguration.defaults()
        configuration.learningRate = 0.001
        configuration.epochs = 10
        configuration.learningRateSchedule = schedule
        if let warmup {
            configuration.learningRateWarmupEpochs = warmup
            configuration.learningRateScaling = .linear
            configuration.globalBatch = 256  // target 0.002
        }
        return configuration
    }

    func testCosineFallsFromTheRateToTheMinimumOverTheRun() {
        let cosine = configuration(LearningRateSchedule(kind: .cosine, minimum: 1e-4))
        // 10 epochs of 100 steps: half a cosine over steps 0...1000.
        XCTAssertEqual(cosine.learningRate(step: 0, stepsPerEpoch: 100), 0.001, accuracy: 1e-12)
        XCTAssertEqual(cosine.learningRate(step: 500, stepsPerEpoch: 100), 0.00055, accuracy: 1e-9)
        XCTAssertEqual(cosine.learningRate(step: 250, stepsPerEpoch: 100),
                       Float(1e-4 + 0.9e-3 * 0.5 * (1 + cos(Double.pi / 4))), accuracy: 1e-9)
        XCTAssertEqual(cosine.learningRate(step: 1000, stepsPerEpoch: 100), 1e-4, accuracy: 1e-10)
        XCTAssertEqual(cosine.learningRate(step: 5000, stepsPerEpoch: 100), 1e-4, accuracy: 1e-10, "it stays at the minimum")
    }

    func testTheWarmupComesFirstThenTheScheduleFallsFromTheScaledRate() {
        let warm = configuration(LearningRateSchedule(kind: .cosine, minimum: 0), warmup: 2)
        XCTAssertEqual(warm.learningRate(step: 100, stepsPerEpoch: 100), 0.0015, accuracy: 1e-9, "half way up the warm-up")
        XCTAssertEqual(warm.learningRate(step: 200, stepsPerEpoch: 100), 0.002, accuracy: 1e-9, "the top: the warm-up's end")
        // The cosine spans the 800 steps after the warm-up: its middle is step 600.
        XCTAssertEqual(warm.learningRate(step: 600, stepsPerEpoch: 100), 0.001, accuracy: 1e-9)
        XCTAssertEqual(warm.learningRate(step: 1000, stepsPerEpoch: 100), 0, accuracy: 1e-12)
    }

    func testStepDecaysEveryNEpochs() {
        let step = configuration(LearningRateSchedule(kind: .step, stepEpochs: 3, stepFactor: 0.5))
        let rates = (0..<10).map { epoch in step.learningRate(step: epoch * 100 + 1, stepsPerEpoch: 100) }
        XCTAssertEqual(rates, [0.001, 0.001, 0.001, 0.0005, 0.0005, 0.0005, 0.00025, 0.00025, 0.00025, 0.000125])
        // Every step of an epoch has its epoch's rate, the last one included.
        XCTAssertEqual(step.learningRate(step: 300, stepsPerEpoch: 100), 0.001)
        XCTAssertEqual(step.learningRate(step: 301, stepsPerEpoch: 100), 0.0005)
    }

    func testConstantAndAbsentScheduleLeaveTheRateAlone() {
        for schedule in [nil, LearningRateSchedule(kind: .constant)] {
            XCTAssertEqual(configuration(schedule).learningRate(step: 777, stepsPerEpoch: 100), 0.001)
        }
    }

    func testImpossibleSchedulesAreRefusedInCommandLineWords() {
        XCTAssertTrue(configuration(LearningRateSchedule(kind: .step)).problems.contains { $0.contains("--lr-step-epochs") })
        XCTAssertTrue(configuration(LearningRateSchedule(kind: .step, stepEpochs: 2, stepFactor: 1.5)).problems
            .contains { $0.contains("--lr-step-factor must be in (0, 1]") })
        XCTAssertTrue(configuration(LearningRateSchedule(kind: .cosine, minimum: 0.01)).problems
            .contains { $0.contains("--lr-min must be >= 0 and below --lr") })
        var fraction = configuration(nil)
        fraction.validationFraction = 1
        XCTAssertTrue(fraction.problems.contains { $0.contains("--validation-fraction must be between 0 and 1") })
    }

    func testTheValidationSplitIsAPureFunctionOfTheSeedAndTheRows() {
        let streams = RandomStreams(seed: 7)
        let held = streams.validationRows(rowCount: 1000, count: 100)
        XCTAssertEqual(held.count, 100)
        XCTAssertEqual(held, held.sorted())
        XCTAssertEqual(Set(held).count, 100)
        XCTAssertEqual(held, RandomStreams(seed: 7).validationRows(rowCount: 1000, count: 100), "the same every time")
        XCTAssertNotEqual(held, RandomStreams(seed: 8).validationRows(rowCount: 1000, count: 100), "another seed, other rows")
        // Spread over the file, not a block of it: a file sorted by label loses no class.
        XCTAssertEqual(Set(held.map { $0 / 100 }).count, 10)
        var config = configuration(nil)
        config.validationFraction = 0.1
        XCTAssertEqual([config.validationRowCount(rowCount: 1000), config.validationRowCount(rowCount: 3),
                        config.validationRowCount(rowCount: 1)], [100, 1, 0])
    }
}
