import Foundation
import VAECore
import VAEIO

/// Where a training run reads and writes, beside the configuration that fixes its numbers.
public struct TrainingOptions: Sendable {
    public var configuration: TrainingConfiguration
    /// The training data file; nil means the default Fashion-MNIST (prepared on first use).
    public var dataPath: String?
    /// Data evaluated after every epoch; nil means none (the default data's test split when dataPath is nil).
    public var testDataPath: String?
    public var runDirectory: String
    public var readingMode: ReadingMode = .auto
    /// Bytes of training data each rank may hold; nil = a share of physical memory.
    public var memoryBudget: Int?
    /// Keep the newest K epoch checkpoints (the final one is always kept).
    public var keepCheckpoints: Int = 3
    public var checkpointEvery: Int = 1
    /// Live progress bar on rank 0 (only when stdout is a terminal).
    public var progressBar: Bool = true
    /// Reduce the decoder's gradients while the encoder's are computed (see Trainer).
    public var overlapAllreduce = false
    /// How the ranks combine gradients (see Trainer and `GradientExchangeChoice`).
    public var gradientExchange: GradientExchangeChoice = .auto
    /// Whether the first encoder layer's dormant units are skipped (see `DormantUnits`).
    public var dormantUnits: DormantUnitsChoice = .skip
    /// Continue from "latest" (the newest checkpoint in the run directory) or a checkpoint path.
    public var resume: String?
    /// Resume even when the data fingerprint differs from the checkpoint's.
    public var force = false
    /// What a step with a NaN or infinite loss or gradient does.
    public var nonFinitePolicy: NonFinitePolicy = .stop
    /// Asked once per step on every rank (the CLI: "did a stop signal arrive?"); when any
    /// rank says yes, every rank stops after that step and rank 0 writes a checkpoint.
    public var stopRequested: @Sendable () -> Bool = { false }
    /// The command line's explicit options applied to a configuration: on resume,
    /// applied to the checkpoint's to find options that contradict it.
    public var applyCommandLine: @Sendable (TrainingConfiguration) -> TrainingConfiguration = { $0 }

    public init(configuration: TrainingConfiguration, runDirectory: String) {
        self.configuration = configuration
        self.runDirectory = runDirectory
    }
}

/// A user-facing problem with the run's inputs, found on some rank before training.
public struct TrainingSetupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Training stopped on request (a signal) before its last epoch, after writing a checkpoint.
public struct TrainingStop: Sendable, Equatable {
    /// Optimizer steps taken.
    public let step: Int
    /// Epochs completed and steps into the next.
    public let position: CheckpointPosition
    public let stepsPerEpoch: Int
    /// How many ranks asked to stop at that step.
    public let requestingRanks: Int
    public let checkpointPath: String
}

/// One training run from the options to the files in the run directory:
/// open the data, build the trainer, train epoch by epoch, and let rank 0 log,
/// write metrics.jsonl and checkpoints. Every step that can fail on one rank
/// is followed by an agreement, so a failure anywhere ends every rank.
public final class TrainingRun {
    public let options: TrainingOptions
    public let communicator: any Communicator
    /// Set after setup: the configuration with the data dimension filled in.
    public private(set) var configuration: TrainingConfiguration
    public private(set) var trainer: Trainer?
    public private(set) var metrics: [EpochMetrics] = []
    /// Set when the run stopped early on a stop request; nil when it trained every epoch.
    public private(set) var stop: TrainingStop?
    private let log: (String) -> Void

    public init(options: TrainingOptions, communicator: any Communicator, log: @escaping (String) -> Void = { print($0) }) {
        self.options = options
        self.communicator = communicator
        self.configuration = options.configuration
        self.log = log
    }

    private var metricsPath: String { (options.runDirectory as NSString).appendingPathComponent("metrics.jsonl") }

    /// Runs every epoch; returns the per-epoch metrics (on every rank).
    @discardableResult
    public func run() throws -> [EpochMetrics] {
        FloatingPointEnvironment.enableFlushToZero()
        let (trainFile, testFile) = try openData()
        let fingerprint = try agreed { try trainFile.fingerprint() }
        // A resumed run takes its configuration from the checkpoint: load it before anything uses the configuration.
        let checkpoint = try options.resume.map { try loadCheckpoint($0, data: trainFile, fingerprint: fingerprint) }
        let trainSource = try agreed { () -> any MinibatchSource in
            try makeMinibatchSource(dataFile: trainFile, mode: options.readingMode,
                                    memoryBudget: options.memoryBudget ?? defaultMemoryBudget(ranksOnThisNode: communicator.size),
                                    bernoulli: configuration.likelihood == .bernoulli)
        }
        // Every rank evaluates a contiguous share of the test rows: held in memory when the
        // file fits a small budget (no decompression at every epoch end), else streamed.
        let testSource = try agreed { () -> (any MinibatchSource)? in
            try testFile.map {
                try makeMinibatchSource(dataFile: $0, mode: .auto, memoryBudget: 256 << 20,
                                        bernoulli: configuration.likelihood == .bernoulli)
            }
        }
        let trainer = try Trainer(configuration: configuration, communicator: communicator, trainData: trainSource,
                                  overlapAllreduce: options.overlapAllreduce, gradientExchange: options.gradientExchange,
                                  dormantUnits: options.dormantUnits)
        trainer.nonFinitePolicy = options.nonFinitePolicy
        trainer.stopRequested = options.stopRequested
        self.trainer = trainer
        let stepsPerEpoch = trainer.stepsPerEpoch(rowCount: trainFile.rowCount)
        if let checkpoint { try agreed { try trainer.restore(from: checkpoint) } }
        let firstEpoch = checkpoint?.epoch ?? 0
        try rootOnly { try prepareRunDirectory(resumingAfterEpoch: checkpoint?.epoch) }
        if communicator.isRoot {
            log(banner(trainFile: trainFile, testFile: testFile, trainer: trainer))
            if let checkpoint { log(resumeNote(checkpoint)) }
        }

        let start = Date()
        for epoch in firstEpoch..<configuration.epochs {
            let epochStart = Date()
            let progress = ProgressBar(enabled: options.progressBar && communicator.isRoot, epoch: epoch + 1,
                                       epochs: configuration.epochs, globalBatch: configuration.globalBatch)
            // A checkpoint written mid-epoch continues its epoch where it stopped.
            let resuming = epoch == firstEpoch ? checkpoint.map {
                EpochProgress(completedSteps: $0.stepInEpoch, skippedSteps: $0.partialEpochSkippedSteps, terms: $0.partialEpochTerms)
            } ?? EpochProgress() : EpochProgress()
            let train = try trainer.trainEpoch(epoch, resuming: resuming, onStep: progress.update)
            progress.finish()
            if trainer.epochProgress.completedSteps < stepsPerEpoch {
                // Stopped on request mid-epoch: save this exact step boundary and end the run.
                let position = CheckpointPosition(epoch: epoch, stepInEpoch: trainer.epochProgress.completedSteps)
                try rootOnly {
                    try writeCheckpoint(trainer: trainer, position: position, fingerprint: fingerprint,
                                        imageShape: trainFile.imageShape)
                }
                stop = TrainingStop(step: trainer.step, position: position, stepsPerEpoch: stepsPerEpoch,
                                    requestingRanks: trainer.ranksRequestingStop, checkpointPath: checkpointPath(position))
                return metrics
            }
            let epochSeconds = Date().timeIntervalSince(epochStart)
            let test = try testSource.map { try trainer.evaluate($0) }
            let elapsed = Date().timeIntervalSince(start)
            let epochMetrics = EpochMetrics(
                epoch: epoch + 1, epochs: configuration.epochs, step: trainer.step,
                trainNegativeELBO: train.negativeELBOPerRow, trainReconstruction: train.reconstruction / Double(train.rows),
                trainKL: train.kl / Double(train.rows),
                klWeight: Double(configuration.klWeight(step: trainer.step, stepsPerEpoch: stepsPerEpoch)),
                testNegativeELBO: test?.negativeELBOPerRow, testReconstruction: test.map { $0.reconstruction / Double($0.rows) },
                testKL: test.map { $0.kl / Double($0.rows) },
                samplesPerSecond: Double(train.rows - resuming.terms.rows) / epochSeconds, epochSeconds: epochSeconds,
                elapsedSeconds: elapsed,
                etaSeconds: elapsed / Double(epoch + 1 - firstEpoch) * Double(configuration.epochs - epoch - 1),
                ranks: communicator.size, skippedSteps: trainer.epochProgress.skippedSteps,
                dormantUnits: trainer.dormantUnits?.dormantCount)
            metrics.append(epochMetrics)
            let isLast = epoch + 1 == configuration.epochs
            // A stop requested at the epoch's last step still gets its checkpoint, whatever --checkpoint-every says.
            let stopping = trainer.ranksRequestingStop > 0 && !isLast
            let position = CheckpointPosition(epoch: epoch + 1, stepInEpoch: 0)
            try rootOnly {
                log(epochMetrics.line)
                try appendLine(epochMetrics.jsonLine, to: metricsPath)
                if isLast || stopping || (epoch + 1) % options.checkpointEvery == 0 {
                    try writeCheckpoint(trainer: trainer, position: position, fingerprint: fingerprint,
                                        imageShape: trainFile.imageShape)
                }
            }
            if stopping {
                stop = TrainingStop(step: trainer.step, position: position, stepsPerEpoch: stepsPerEpoch,
                                    requestingRanks: trainer.ranksRequestingStop, checkpointPath: checkpointPath(position))
                return metrics
            }
        }
        return metrics
    }

    // MARK: Set-up

    /// Opens (and, for the default data, first prepares) the data files on every rank.
    private func openData() throws -> (train: DataFile, test: DataFile?) {
        var trainPath = options.dataPath
        var testPath = options.testDataPath
        if trainPath == nil {
            // Rank 0 prepares the default files; the others wait for the agreement, then open them.
            let paths = try rootFirst { try DefaultData.ensureFashionMNIST(log: log) }
            trainPath = paths.train
            if testPath == nil { testPath = paths.test }
        }
        // Rank 0 alone reads the files whole for their checksums (one read of the data, not
        // one per rank); the others open them only after that passed: HDF5 can hang on a
        // damaged file (docs/faults.md).
        try rootOnly { try ([trainPath!] + (testPath.map { [$0] } ?? [])).forEach(DataFile.verify) }
        let train = try agreed { try DataFile.open(trainPath!, verifyingChecksum: false) }
        let test = try agreed { try testPath.map { try DataFile.open($0, verifyingChecksum: false) } }
        try agreed { try checkSetup(train: train, test: test) }
        return (train, test)
    }

    /// The options against the data and the world size; the same verdict on every rank.
    private func checkSetup(train: DataFile, test: DataFile?) throws {
        if let test, test.featureCount != train.featureCount {
            throw TrainingSetupError("test data \(test.path) has \(test.featureCount) features per row, "
                                     + "but the training data \(train.path) has \(train.featureCount)")
        }
        configuration.architecture.dataDimension = train.featureCount
        let problems = configuration.problems
        if !problems.isEmpty { throw TrainingSetupError(problems.joined(separator: "; ")) }
        if configuration.globalBatch < communicator.size {
            throw TrainingSetupError("--batch \(configuration.globalBatch) is smaller than the \(communicator.size) ranks: "
                                     + "the global batch must give every rank at least one row")
        }
        if configuration.lastBatch == .drop && train.rowCount < configuration.globalBatch {
            throw TrainingSetupError("\(train.path) has \(train.rowCount) rows, fewer than one global batch of "
                                     + "\(configuration.globalBatch) with --last-batch drop: no step would run")
        }
    }

    private func prepareRunDirectory(resumingAfterEpoch resumedEpoch: Int?) throws {
        let directory = options.runDirectory
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw TrainingSetupError("--out \(directory) exists and is not a directory") }
            removeStaleTemporaryFiles()
            if let resumedEpoch {
                try truncateMetrics(afterEpoch: resumedEpoch)
            } else if FileManager.default.fileExists(atPath: metricsPath) {
                throw TrainingSetupError("--out \(directory) already holds a run (metrics.jsonl); "
                                         + "continue it with --resume latest, or choose a new directory")
            }
        } else {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw TrainingSetupError("cannot create run directory \(directory): \(error.localizedDescription)")
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let configPath = (directory as NSString).appendingPathComponent("config.json")
        do {
            // Atomic: a full disk leaves the old config.json, not a truncated one.
            try writeFileAtomically(to: configPath, bytes: Array(encoder.encode(configuration)))
        } catch {
            throw TrainingSetupError("cannot write \(configPath): \(failureMessage(error))")
        }
    }

    /// Deletes the temporary files of checkpoint writes that were killed before their
    /// rename (`.checkpoint-epoch-....h5.tmp-PID-XXXX`). They never count as checkpoints;
    /// removing them only returns their space.
    private func removeStaleTemporaryFiles() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: options.runDirectory)) ?? []
        for name in names where name.hasPrefix(".checkpoint-epoch-") && name.contains(".h5.tmp-") {
            let path = (options.runDirectory as NSString).appendingPathComponent(name)
            if (try? FileManager.default.removeItem(atPath: path)) != nil {
                log("  removed  \(name), left by an interrupted checkpoint write")
            }
        }
    }

    private func banner(trainFile: DataFile, testFile: DataFile?, trainer: Trainer) -> String {
        let architecture = configuration.architecture
        let shape = ([architecture.dataDimension] + architecture.hiddenSizes + [architecture.latentDimension])
            .map(String.init).joined(separator: "-")
        var lines = [
            "vae-dist train: \(communicator.size) rank\(communicator.size == 1 ? "" : "s"), BLAS kernel \(BLASLibrary.coreName)"
                + " x \(BLASLibrary.threadCount) thread\(BLASLibrary.threadCount == 1 ? "" : "s") per rank",
            "  model    \(shape) \(architecture.activation.rawValue), \(trainer.layout.totalCount) parameters, "
                + "\(configuration.posterior.rawValue) posterior, \(configuration.likelihood.rawValue) likelihood"
                + "\(architecture.learnedVarianceFloor.map { " (learned variance, floor \($0))" } ?? ""), estimator \(configuration.estimator.rawValue), L=\(configuration.samples)",
            "  data     \(trainFile.path): \(trainFile.rowCount) x \(trainFile.featureCount) \(trainFile.featureType.rawValue)",
        ]
        if let testFile { lines.append("  test     \(testFile.path): \(testFile.rowCount) rows") }
        lines.append("  training \(configuration.epochs) epochs, global batch \(configuration.globalBatch), "
                     + "\(configuration.optimizer.rawValue) lr \(learningRateDescription), seed \(configuration.seed)")
        if communicator.size > 1 {
            if let (nodes, perNode) = trainer.sharedMemoryNodes {
                lines.append("  exchange shared memory, \(nodes) node\(nodes == 1 ? "" : "s") x \(perNode) rank\(perNode == 1 ? "" : "s"): "
                             + "each rank sums and updates 1/\(perNode) of the parameters"
                             + (nodes > 1 ? ", its range allreduced across the nodes" : ""))
            } else {
                lines.append("  exchange " + (options.overlapAllreduce ? "MPI allreduce, decoder bucket overlapped with the encoder's backward"
                                                                       : "MPI allreduce of the fused gradient buffer")
                             + (trainer.exchangeNote.map { " (\($0))" } ?? ""))
            }
        }
        lines.append("  dormant  first-layer ReLU units \(trainer.dormantUnitsNote)")
        lines.append("  output   \(options.runDirectory)")
        return lines.joined(separator: "\n")
    }

    // MARK: Resume

    /// Reads the checkpoint to resume on every rank and makes it this run's
    /// configuration, refusing anything that would not continue the same run.
    private func loadCheckpoint(_ request: String, data: DataFile, fingerprint: String) throws -> Checkpoint {
        // Rank 0 resolves "latest", so every rank reads the same file even while
        // an old run directory is being cleaned up.
        var path = request
        if request == "latest" {
            let newest = communicator.isRoot ? (newestCheckpoint() ?? "") : ""
            path = try communicator.broadcast(newest, from: 0)
            if path.isEmpty {
                throw TrainingSetupError("--resume latest: no checkpoint-epoch-*.h5 in \(options.runDirectory)")
            }
        }
        let checkpoint = try agreed { try Checkpoint.read(path) }
        try agreed { try adoptConfiguration(of: checkpoint, path: path, data: data, fingerprint: fingerprint) }
        return checkpoint
    }

    /// Makes the checkpoint's configuration this run's, refusing options or data that contradict it.
    private func adoptConfiguration(of checkpoint: Checkpoint, path: String, data: DataFile, fingerprint: String) throws {
        var saved = checkpoint.configuration
        guard saved.architecture.dataDimension == data.featureCount else {
            throw TrainingSetupError("checkpoint \(path) models \(saved.architecture.dataDimension) features per row, "
                                     + "but \(data.path) has \(data.featureCount)")
        }
        let requested = options.applyCommandLine(saved)
        saved.epochs = requested.epochs
        if requested != saved {
            throw TrainingSetupError("--resume: options \(Self.differences(saved, requested)) contradict checkpoint \(path); "
                                     + "a resumed run keeps the checkpoint's model, objective and optimizer (start a new run to change them)")
        }
        if requested.epochs <= checkpoint.epoch {
            throw TrainingSetupError("checkpoint \(path) already completed \(checkpoint.epoch) of \(requested.epochs) epochs; "
                                     + "ask for more with --epochs")
        }
        let stepsPerEpoch = EpochSchedule.stepsPerEpoch(rowCount: data.rowCount, globalBatch: requested.globalBatch,
                                                        lastBatch: requested.lastBatch)
        if checkpoint.stepInEpoch >= stepsPerEpoch {
            throw TrainingSetupError("checkpoint \(path) is \(checkpoint.stepInEpoch) steps into epoch \(checkpoint.epoch + 1), "
                                     + "but an epoch of \(data.path) has \(stepsPerEpoch) steps")
        }
        if checkpoint.dataFingerprint != fingerprint && !options.force {
            throw TrainingSetupError("\(data.path) has fingerprint \(fingerprint) but checkpoint \(path) was trained on "
                                     + "\(checkpoint.dataFingerprint); use the same data, or --force to continue on this file")
        }
        configuration = requested
    }

    private func newestCheckpoint() -> String? {
        try? CheckpointLocation.resolve(options.runDirectory).path
    }

    /// The command-line names of the fields in which two configurations differ.
    static func differences(_ a: TrainingConfiguration, _ b: TrainingConfiguration) -> String {
        func encoded(_ c: TrainingConfiguration) -> [String: String] {
            let object = (try? JSONSerialization.jsonObject(with: JSONEncoder().encode(c))) as? [String: Any] ?? [:]
            var flat: [String: String] = [:]
            for (key, value) in object {
                if let nested = value as? [String: Any] {
                    for (inner, v) in nested { flat[inner] = "\(v)" }
                } else {
                    flat[key] = "\(value)"
                }
            }
            return flat
        }
        let (left, right) = (encoded(a), encoded(b))
        return left.keys.sorted().filter { left[$0] != right[$0] }
            .map { "\($0) (checkpoint \(left[$0]!), asked \(right[$0] ?? "-"))" }.joined(separator: ", ")
    }

    private func resumeNote(_ checkpoint: Checkpoint) -> String {
        var note = "  resume   from epoch \(checkpoint.epoch), step \(checkpoint.step)"
        if checkpoint.stepInEpoch > 0 { note += " (\(checkpoint.stepInEpoch) steps into epoch \(checkpoint.epoch + 1))" }
        if checkpoint.worldSize != communicator.size {
            note += "; saved by \(checkpoint.worldSize) rank\(checkpoint.worldSize == 1 ? "" : "s"), now \(communicator.size): "
                + "results differ from an uninterrupted run only by floating-point summation order"
        }
        return note
    }

    /// Drops metrics lines of epochs after the checkpoint (written before an interruption).
    private func truncateMetrics(afterEpoch epoch: Int) throws {
        guard let text = try? String(contentsOfFile: metricsPath, encoding: .utf8) else { return }
        let kept = text.split(separator: "\n").filter { line in
            guard let metrics = try? JSONDecoder().decode(EpochMetrics.self, from: Data(line.utf8)) else { return false }
            return metrics.epoch <= epoch
        }
        let body = kept.map { $0 + "\n" }.joined()
        do {
            try body.write(toFile: metricsPath, atomically: true, encoding: .utf8)
        } catch {
            throw TrainingSetupError("cannot rewrite \(metricsPath): \(error.localizedDescription)")
        }
    }

    /// "0.001", or "0.001 x linear(256/128) = 0.002 after a 5-epoch warm-up".
    private var learningRateDescription: String {
        let base = "\(configuration.learningRate)"
        guard let scaling = configuration.learningRateScaling, scaling != .none else { return base }
        let scaled = configuration.learningRate(step: Int.max / 2, stepsPerEpoch: 1)
        var text = "\(base) x \(scaling.rawValue)(\(configuration.globalBatch)/\(TrainingConfiguration.learningRateReferenceBatch)) = \(scaled)"
        if let warmup = configuration.learningRateWarmupEpochs, warmup > 0 { text += " after a \(warmup)-epoch warm-up" }
        return text
    }

    // MARK: Rank 0's files

    private func checkpointPath(_ position: CheckpointPosition) -> String {
        (options.runDirectory as NSString).appendingPathComponent(CheckpointLocation.checkpointName(position))
    }

    /// Rank 0 saves the state at a step boundary: the end of an epoch, or mid-epoch when stopping on request.
    private func writeCheckpoint(trainer: Trainer, position: CheckpointPosition, fingerprint: String,
                                 imageShape: ImageShape?) throws {
        var state: [String: [Float]] = [:]
        for (stateName, buffer) in trainer.optimizer.state { state[stateName] = buffer.array }
        var checkpoint = Checkpoint(configuration: configuration, step: trainer.step, epoch: position.epoch,
                                    worldSize: communicator.size, dataFingerprint: fingerprint,
                                    parameters: trainer.parameters.array, optimizerName: trainer.optimizer.name,
                                    optimizerState: state)
        checkpoint.imageShape = imageShape
        if position.stepInEpoch > 0 {
            checkpoint.stepInEpoch = position.stepInEpoch
            checkpoint.partialEpochTerms = trainer.epochProgress.terms
            checkpoint.partialEpochSkippedSteps = trainer.epochProgress.skippedSteps
        }
        do {
            try checkpoint.write(to: checkpointPath(position))
        } catch {
            throw TrainingSetupError("cannot write checkpoint: \(failureMessage(error)); the previous checkpoints are "
                                     + "untouched: free space or fix the directory, then continue with --resume latest")
        }
        try removeOldCheckpoints()
    }

    /// Keeps the newest `keepCheckpoints` checkpoints (in training order, mid-epoch ones
    /// included); older ones go only after a newer one is complete.
    private func removeOldCheckpoints() throws {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: options.runDirectory)) ?? []
        let checkpoints = names.compactMap { name in CheckpointLocation.positionOfCheckpointName(name).map { ($0, name) } }
            .sorted { $0.0 < $1.0 }.map(\.1)
        for name in checkpoints.dropLast(max(1, options.keepCheckpoints)) {
            try? FileManager.default.removeItem(atPath: (options.runDirectory as NSString).appendingPathComponent(name))
        }
    }

    private func appendLine(_ line: String, to path: String) throws {
        guard let handle = FileHandle(forWritingAtPath: path) ?? {
            FileManager.default.createFile(atPath: path, contents: nil) ? FileHandle(forWritingAtPath: path) : nil
        }() else {
            throw TrainingSetupError("cannot write \(path)")
        }
        defer { try? handle.close() }
        let end = try handle.seekToEnd()
        do {
            try handle.write(contentsOf: Data((line + "\n").utf8))
        } catch {
            // A full disk must not leave half a line: cut the file back to its last whole line.
            try? handle.truncate(atOffset: end)
            throw TrainingSetupError("cannot append to \(path): \(failureMessage(error))")
        }
    }

    // MARK: Agreement helpers

    /// Runs `body` on every rank; if it fails anywhere, every rank throws the failing rank's message.
    private func agreed<T>(_ body: () throws -> T) throws -> T {
        var result: T?
        var failure: String?
        do { result = try body() } catch { failure = failureMessage(error) }
        try communicator.agreeOnFailure(failure)
        return result!
    }

    /// Runs `body` on rank 0 only (file side effects); a failure there ends every rank.
    private func rootOnly(_ body: () throws -> Void) throws {
        var failure: String?
        if communicator.isRoot {
            do { try body() } catch { failure = failureMessage(error) }
        }
        try communicator.agreeOnFailure(failure)
    }

    /// Runs `body` on rank 0, then on the others once rank 0 has succeeded.
    private func rootFirst<T>(_ body: () throws -> T) throws -> T {
        var result: T?
        var failure: String?
        if communicator.isRoot {
            do { result = try body() } catch { failure = failureMessage(error) }
        }
        try communicator.agreeOnFailure(failure)
        if !communicator.isRoot { result = try agreed(body) } else { _ = try agreed { result! } }
        return result!
    }
}
