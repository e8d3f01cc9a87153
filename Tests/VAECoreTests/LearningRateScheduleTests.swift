import XCTest
@testable import VAECore

/// `--lr-scaling` and `--lr-warmup`: the rate at each step is a pure function of the step.
final class LearningRateScheduleTests: XCTestCase {
    private func configuration(batch: Int, scaling: LearningRateScaling?, warmup: Double? = nil) -> TrainingConfiguration {
        var configuration = TrainingConfiguration.defaults()
        configuration.globalBatch = batch
        configuration.learningRate = 0.001
        configuration.learningRateScaling = scaling
        configuration.learningRateWarmupEpochs = warmup
        return configuration
    }

    func testScalingFollowsTheGlobalBatch() {
        XCTAssertEqual(configuration(batch: 512, scaling: nil).learningRate(step: 1, stepsPerEpoch: 10), 0.001)
        XCTAssertEqual(configuration(batch: 512, scaling: LearningRateScaling.none).learningRate(step: 1, stepsPerEpoch: 10), 0.001)
        XCTAssertEqual(configuration(batch: 512, scaling: .linear).learningRate(step: 1, stepsPerEpoch: 10), 0.004, accuracy: 1e-9)
        XCTAssertEqual(configuration(batch: 512, scaling: .sqrt).learningRate(step: 1, stepsPerEpoch: 10), 0.002, accuracy: 1e-9)
        XCTAssertEqual(configuration(batch: 64, scaling: .linear).learningRate(step: 1, stepsPerEpoch: 10), 0.0005, accuracy: 1e-9)
    }

    func testWarmupRampsFromTheBaseRateToTheScaledRate() {
        let warming = configuration(batch: 1024, scaling: .linear, warmup: 2)  // target 0.008 after 2 x 10 steps
        XCTAssertEqual(warming.learningRate(step: 0, stepsPerEpoch: 10), 0.001, accuracy: 1e-9)
        XCTAssertEqual(warming.learningRate(step: 10, stepsPerEpoch: 10), 0.0045, accuracy: 1e-9)
        XCTAssertEqual(warming.learningRate(step: 20, stepsPerEpoch: 10), 0.008, accuracy: 1e-9)
        XCTAssertEqual(warming.learningRate(step: 500, stepsPerEpoch: 10), 0.008, accuracy: 1e-9)
    }

    func testWarmupWithoutScalingIsRefused() {
        let problems = configuration(batch: 128, scaling: nil, warmup: 5).problems
        XCTAssertTrue(problems.contains { $0.contains("--lr-warmup") && $0.contains("--lr-scaling") }, "\(problems)")
        XCTAssertFalse(configuration(batch: 128, scaling: .linear, warmup: 5).problems.contains { $0.contains("--lr-warmup") })
        XCTAssertTrue(configuration(batch: 128, scaling: .linear, warmup: -1).problems.contains { $0.contains("--lr-warmup") })
    }

    func testConfigurationsWithoutTheScheduleStillDecode() throws {
        // Checkpoints written before these options existed carry no such keys.
        var json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(TrainingConfiguration.defaults())) as! [String: Any]
        json.removeValue(forKey: "learningRateScaling")
        json.removeValue(forKey: "learningRateWarmupEpochs")
        let decoded = try JSONDecoder().decode(TrainingConfiguration.self, from: JSONSerialization.data(withJSONObject: json))
        XCTAssertNil(decoded.learningRateScaling)
        XCTAssertEqual(decoded.learningRate(step: 1, stepsPerEpoch: 1), 0.001)
    }
}
