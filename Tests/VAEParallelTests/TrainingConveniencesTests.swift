import Foundation
import XCTest
import VAETestSupport
@testable import VAECore
import VAEIO
@testable import VAEParallel

/// What PyTorch Lightning users take for granted: metrics with the learning rate and the
/// time, `--lr-schedule`, `--init-from`, a validation split with the best checkpoint and
/// early stopping, and TensorBoard event files; under mpirun, and resumed exactly.
final class TrainingConveniencesTests: XCTestCase {
    private var scratch = ""
    private var data = ""

    override func setUpWithError() throws {
        scratch = try makeScratchDirectory(self)
        data = scratch + "/data.h5"
        try writeDataFile(data, features: syntheticFeatures(rows: 40, features: 10, seed: 17), rows: 40)
    }

    private func train(_ configuration: TrainingConfiguration, out: String,
                       _ adjust: (inout TrainingOptions) -> Void = { _ in }) throws -> TrainingRun {
        var options = TrainingOptions(configuration: configuration, runDirectory: scratch + "/" + out)
        options.dataPath = data
        adjust(&options)
        let run = TrainingRun(options: options, communicator: SingleProcessCommunicator(), log: { _ in })
        try run.run()
        return run
    }

    func testMetricsRecordTheLearningRateAndTheTime() throws {
        var configuration = smallConfiguration(epochs: 3)
        configuration.learningRateSchedule = LearningRateSchedule(kind: .cosine, minimum: 0.001)
        let before = Date()
        _ = try train(configuration, out: "run")
        let metrics = try readMetrics(scratch + "/run")
        let stepsPerEpoch = 5  // 40 rows, batch 8
        XCTAssertEqual(metrics.map(\.learningRate), (1...3).map { Double(configuration.learningRate(step: $0 * stepsPerEpoch, stepsPerEpoch: stepsPerEpoch)) })
        XCTAssertEqual(metrics.last?.learningRate ?? 0, 0.001, accuracy: 1e-9, "the cosine ends at --lr-min")
        let formatter = ISO8601DateFormatter()
        let times = try metrics.map { try XCTUnwrap($0.time.flatMap(formatter.date(from:)), "time \(String(describing: $0.time))") }
        XCTAssertEqual(times, times.sorted())
        XCTAssertGreaterThanOrEqual(times[0].timeIntervalSince(before), -1, "UTC wall-clock time, to the second")
        let text = try String(contentsOfFile: scratch + "/run/metrics.jsonl", encoding: .utf8)
        XCTAssertTrue(text.contains("\"learning_rate\":"), text)
        XCTAssertTrue(text.contains("\"time\":\""), text)
    }

    /// `--init-from`: the weights of another run, a fresh optimizer, step 0. With a rate too
    /// small to move a float32 weight, the new run ends with exactly the weights it started from.
    func testInitFromStartsFromTheCheckpointsWeightsWithAFreshOptimizer() throws {
        _ = try train(smallConfiguration(epochs: 2), out: "first")
        let first = try finalParameters(scratch + "/first")
        var still = smallConfiguration(epochs: 1)
        still.learningRate = 1e-30
        _ = try train(still, out: "second") { $0.initFrom = self.scratch + "/first" }
        let second = try finalParameters(scratch + "/second")
        XCTAssertEqual(second.parameters.map(\.bitPattern), first.parameters.map(\.bitPattern))
        XCTAssertEqual([second.step, second.epoch], [5, 1], "a new run: its own steps from 0")
        // Adam's moments after one epoch of the new run, not the first run's after two.
        XCTAssertNotEqual(try XCTUnwrap(second.optimizerState["exp_avg"]).map(\.bitPattern),
                          try XCTUnwrap(first.optimizerState["exp_avg"]).map(\.bitPattern))
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: scratch + "/second/config.json")))
        XCTAssertEqual((config as? [String: Any])?["init_from"] as? String,
                       try CheckpointLocation.resolve(scratch + "/first").path)
        // And without it, the same run starts from the seed's weights instead.
        _ = try train(still, out: "fresh")
        XCTAssertNotEqual(try finalParameters(scratch + "/fresh").parameters.map(\.bitPattern), first.parameters.map(\.bitPattern))

        var wider = smallConfiguration(epochs: 1)
        wider.architecture.hiddenSizes = [7]
        XCTAssertThrowsError(try train(wider, out: "wider") { $0.initFrom = self.scratch + "/first" }) {
            XCTAssertTrue(failureMessage($0).contains("--init-from") && failureMessage($0).contains("hiddenSizes"), failureMessage($0))
        }
    }

    /// The split holds out rows for every epoch's validation -ELBO; the best epoch's checkpoint
    /// is checkpoint-best.h5, and the run stops PATIENCE epochs after it.
    func testValidationKeepsTheBestEpochAndStopsEarly() throws {
        // 32 rows of noise to train on and 8 to validate: the model soon learns the noise,
        // and the validation -ELBO stops improving.
        var configuration = smallConfiguration(epochs: 60)
        configuration.architecture.hiddenSizes = [64]
        configuration.learningRate = 0.02
        configuration.validationFraction = 0.2
        let run = try train(configuration, out: "run") { $0.earlyStoppingPatience = 3 }
        let metrics = try readMetrics(scratch + "/run")
        let validation = metrics.compactMap(\.validationNegativeELBO)
        XCTAssertEqual(validation.count, metrics.count, "every epoch has a validation -ELBO")
        let stopped = try XCTUnwrap(run.earlyStopEpoch, "no early stop in 60 epochs: \(validation)")
        let best = validation.indices.min { validation[$0] < validation[$1] }! + 1
        XCTAssertEqual(stopped, best + 3)
        XCTAssertEqual(metrics.count, stopped)
        XCTAssertEqual(validation[best...].min().map { $0 >= validation[best - 1] }, true)
        let saved = try Checkpoint.read(scratch + "/run/checkpoint-best.h5")
        XCTAssertEqual(saved.epoch, best)
        XCTAssertEqual(saved.bestValidation?.epoch, best)
        XCTAssertEqual(saved.bestValidation?.negativeELBO, validation[best - 1])
        XCTAssertEqual(try finalParameters(scratch + "/run").epoch, stopped, "the last epoch's checkpoint is written too")
        // Training saw 32 rows an epoch: 4 steps of 8.
        XCTAssertEqual(metrics.first?.step, 4)

        // Resuming a run that stopped early trains nothing more.
        let resumed = try train(configuration, out: "run") { $0.earlyStoppingPatience = 3; $0.resume = "latest" }
        XCTAssertEqual(resumed.earlyStopEpoch, stopped)
        XCTAssertEqual(try readMetrics(scratch + "/run").count, stopped)

        XCTAssertThrowsError(try train(smallConfiguration(epochs: 2), out: "none") { $0.earlyStoppingPatience = 2 }) {
            XCTAssertTrue(failureMessage($0).contains("--early-stopping watches the validation -ELBO"), failureMessage($0))
        }
    }

    /// Every option at once under mpirun, stopped by a signal and resumed: the parameters,
    /// the metrics' numbers and the TensorBoard curves equal an uninterrupted run's.
    func testEverythingResumesExactlyUnderMPI() throws {
        func arguments(_ out: String) -> [String] {
            var configuration = smallConfiguration(epochs: 60)
            configuration.architecture.hiddenSizes = [48]
            return trainArguments(configuration, data: data, out: scratch + "/" + out)
                + ["--validation-fraction", "0.25", "--early-stopping", "100", "--lr-schedule", "cosine", "--lr-min", "0.0001",
                   "--tensorboard"]
        }
        let straight = try runProcess(try mpirunExecutable(), try mpirunArguments(ranks: 2, arguments("straight")),
                                      environment: childEnvironment(), timeout: 120)
        XCTAssertEqual(straight.status, 0, straight.standardError)
        XCTAssertTrue(straight.standardOutput.contains("validate 10 of its rows held out"), straight.standardOutput)

        let job = try ChildProcess(try mpirunExecutable(), try mpirunArguments(ranks: 2, arguments("stopped")),
                                   environment: childEnvironment())
        XCTAssertTrue(job.waitFor(timeout: 60) { metricsLineCount(self.scratch + "/stopped") >= 2 }, job.standardError)
        job.signal(SIGUSR1)
        let stopped = job.finish(timeout: 30)
        XCTAssertEqual(stopped.status, 75, stopped.standardError)
        let resumed = try runProcess(try mpirunExecutable(),
                                     try mpirunArguments(ranks: 2, arguments("stopped") + ["--resume", "latest"]),
                                     environment: childEnvironment(), timeout: 120)
        XCTAssertEqual(resumed.status, 0, resumed.standardError)

        let a = try finalParameters(scratch + "/straight"), b = try finalParameters(scratch + "/stopped")
        XCTAssertEqual(b.parameters.map(\.bitPattern), a.parameters.map(\.bitPattern))
        XCTAssertEqual(b.bestValidation?.epoch, a.bestValidation?.epoch)
        let numbers: (EpochMetrics) -> [Double?] = { [$0.trainNegativeELBO, $0.validationNegativeELBO, $0.learningRate] }
        XCTAssertEqual(try readMetrics(scratch + "/stopped").map(numbers), try readMetrics(scratch + "/straight").map(numbers))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: scratch + "/stopped/checkpoint-best.h5")).count,
                       try Data(contentsOf: URL(fileURLWithPath: scratch + "/straight/checkpoint-best.h5")).count)

        // The curves, as TensorBoard's own reader sees them: every step once, the same values.
        let read = """
            import sys
            from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
            run = EventAccumulator(sys.argv[1], size_guidance={"scalars": 0})
            run.Reload()
            for tag in sorted(run.Tags()["scalars"]):
                if tag.startswith("speed/"):
                    continue  # samples/s: wall-clock, not the math
                for event in run.Scalars(tag):
                    print(tag, event.step, repr(event.value))
            """
        let straightCurves = try Prerequisites.runPython(["-c", read, scratch + "/straight"], modules: ["tensorboard"],
                                                         for: "the TensorBoard event files of a run")
        let resumedCurves = try Prerequisites.runPython(["-c", read, scratch + "/stopped"], modules: ["tensorboard"],
                                                        for: "the TensorBoard event files of a run")
        XCTAssertEqual(straightCurves.status, 0, straightCurves.standardError)
        XCTAssertEqual(resumedCurves.status, 0, resumedCurves.standardError)
        XCTAssertEqual(resumedCurves.standardOutput, straightCurves.standardOutput)
        let lines = straightCurves.standardOutput.split(separator: "\n")
        for tag in ["step/train_neg_elbo", "step/learning_rate", "train/neg_elbo", "train/kl", "validation/neg_elbo",
                    "optimizer/learning_rate"] {
            XCTAssertTrue(lines.contains { $0.hasPrefix(tag + " ") }, "\(tag) missing")
        }
        // 30 training rows, batch 8: 4 steps an epoch, one step event each.
        XCTAssertEqual(lines.filter { $0.hasPrefix("step/train_neg_elbo ") }.count, 4 * 60)
    }

    func testTensorBoardImagesShowPriorDraws() throws {
        var configuration = smallConfiguration(epochs: 2)
        configuration.architecture.dataDimension = 16
        let square = scratch + "/square.h5"
        try writeDataFile(square, features: syntheticFeatures(rows: 24, features: 16, seed: 3), rows: 24)
        let result = try runVAEDist(trainArguments(configuration, data: square, out: scratch + "/pictures") + ["--tensorboard-images"])
        XCTAssertEqual(result.status, 0, result.standardError)
        let read = """
            import sys
            from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
            run = EventAccumulator(sys.argv[1], size_guidance={"images": 0})
            run.Reload()
            for event in run.Images("samples/prior_draws"):
                print(event.step, event.width, event.height, event.encoded_image_string[:4] == b"\\x89PNG")
            """
        let images = try Prerequisites.runPython(["-c", read, scratch + "/pictures"], modules: ["tensorboard"],
                                                 for: "TensorBoard's image events")
        XCTAssertEqual(images.status, 0, images.standardError)
        // 64 draws of 4x4 in an 8x8 grid, 2 pixels apart: 46 x 46; one image an epoch.
        XCTAssertEqual(images.standardOutput, "3 46 46 True\n6 46 46 True\n")
    }
}
