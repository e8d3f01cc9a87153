import Foundation
import VAECore
import VAEIO

/// One training run, from the options to the files in the run directory.
///
/// `run()` is the only orchestrator: open the data, build the trainer, train epoch by
/// epoch, and let rank 0 log, append metrics.jsonl and write checkpoints
/// (`RunDirectory`). A resumed run starts from a `ResumePlan`. Every step that can fail
/// on one rank is followed by an agreement (`Communicator.agreed`, `rootOnly`), so a
/// failure anywhere ends every rank with its message.
public final class TrainingRun {
    public let options: TrainingOptions
    public let communicator: any Communicator
    /// Set after setup: the configuration with the data dimension filled in.
    public private(set) var configuration: TrainingConfiguration
    public private(set) var trainer: Trainer?
    public private(set) var metrics: [EpochMetrics] = []
    /// Set when the run stopped early on a stop request; nil when it trained every epoch.
    public private(set) var stop: TrainingStop?
    /// Rank 0's lines (standard output by default).
    private let log: (String) -> Void
    private let directory: RunDirectory
    /// Rank 0's lock on the run directory, from before it reads the run to the end.
    private var lock: RunDirectoryLock?

    public init(options: TrainingOptions, communicator: any Communicator,
                log: @escaping (String) -> Void = Console.print) {
        self.options = options
        self.communicator = communicator
        self.configuration = options.configuration
        self.log = log
        directory = RunDirectory(path: options.runDirectory, log: log)
    }

    /// Runs every epoch; returns the per-epoch metrics (on every rank).
    @discardableResult
    public func run() throws -> [EpochMetrics] {
        FloatingPointEnvironment.enableFlushToZero()
        defer { lock?.release() }
        // Resuming reads the run ("latest"): no other process may be writing it. (A directory
        // without checkpoints is locked when it is prepared, if the run gets that far.)
        if options.resume != nil, directory.newestCheckpoint() != nil {
            try communicator.rootOnly { lock = try directory.lock(forNewRun: false) }
        }
        let data = try openData()
        let (trainFile, testFile, fingerprint) = (data.train, data.test, data.fingerprint)
        // A resumed run takes its configuration from the checkpoint: load it before anything uses the configuration.
        let resume = try options.resume.map {
            try ResumePlan.load($0, options: options, directory: directory, data: trainFile, fingerprint: fingerprint,
                                communicator: communicator)
        }
        if let resume { configuration = resume.configuration }
        // A new block-shuffled run takes its blocks from the data's storage (a resumed one keeps its checkpoint's).
        if configuration.shuffle == .blocks && configuration.blockShuffle == nil {
            configuration.blockShuffle = trainFile.storageBlockShuffle
        }
        let placement = try DataPlacement.make(data: trainFile, mode: options.readingMode,
                                               nodeBudget: options.memoryBudget ?? defaultMemoryBudget(),
                                               bernoulli: configuration.likelihood == .bernoulli, communicator: communicator)
        // Before the trainer: its start-up checks run GEMMs on the engine. Timed at the
        // rows the first rank holds in its largest step.
        let stepRows = EpochSchedule.largestStep(rowCount: trainFile.rowCount, globalBatch: configuration.globalBatch)
        configuration.gemm = try GEMMSetup.install(
            request: options.gemm, configuration: configuration,
            rowsPerRank: EpochSchedule.rankRange(batchSize: stepRows, rank: 0, size: communicator.size).count,
            communicator: communicator).backend
        let testSource = try makeTestSource(testFile)
        let trainer = try makeTrainer(placement.source)
        if let resume { try communicator.agreed { try trainer.restore(from: resume.checkpoint) } }
        try communicator.rootOnly {
            if lock == nil { lock = try directory.lock(forNewRun: resume == nil) }
            if let resume, options.resume != "latest" { try directory.requireOwnCheckpoints(resumingFrom: resume.path) }
            try directory.prepare(resumingAfterEpoch: resume?.checkpoint.epoch, configuration: configuration)
        }
        communicator.printOnRoot(TrainingBanner(configuration: configuration, ranks: communicator.size, trainFile: trainFile,
                                                testFile: testFile, memory: placement.description, trainer: trainer,
                                                runDirectory: options.runDirectory).text,
                                 to: log)
        if let resume { communicator.printOnRoot(resume.note(ranks: communicator.size), to: log) }

        let stepsPerEpoch = trainer.stepsPerEpoch(rowCount: trainFile.rowCount)
        let firstEpoch = resume?.firstEpoch ?? 0
        let start = Date()
        for epoch in firstEpoch..<configuration.epochs {
            let epochStart = Date()
            let resuming = epoch == firstEpoch ? resume?.progress ?? EpochProgress() : EpochProgress()
            let progress = ProgressReporter(style: communicator.isRoot ? options.progress : .off,
                                            title: "epoch \(epoch + 1)/\(configuration.epochs)", total: stepsPerEpoch,
                                            unit: "steps", rateUnit: "samples/s")
            let train = try trainer.trainEpoch(epoch, resuming: resuming) { step, _ in
                let terms = trainer.epochProgress.terms
                progress.update(done: step, items: terms.rows - resuming.terms.rows,
                                status: terms.rows > 0 ? "-ELBO " + fixed(terms.negativeELBOPerRow) : nil)
            }
            progress.finish()
            if trainer.epochProgress.completedSteps < stepsPerEpoch {
                // Stopped on request mid-epoch: save this exact step boundary and end the run.
                try stopRun(at: CheckpointPosition(epoch: epoch, stepInEpoch: trainer.epochProgress.completedSteps),
                            trainer: trainer, stepsPerEpoch: stepsPerEpoch, fingerprint: fingerprint, data: trainFile)
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
            try communicator.rootOnly {
                log(epochMetrics.line)
                try directory.appendMetrics(epochMetrics)
                if isLast || stopping || (epoch + 1) % options.checkpointEvery == 0 {
                    try directory.write(checkpoint(of: trainer, at: position, fingerprint: fingerprint, data: trainFile),
                                        at: position, keep: options.keepCheckpoints)
                }
            }
            if stopping {
                stop = TrainingStop(step: trainer.step, position: position, stepsPerEpoch: stepsPerEpoch,
                                    requestingRanks: trainer.ranksRequestingStop,
                                    checkpointPath: directory.checkpointPath(position))
                return metrics
            }
        }
        return metrics
    }

    /// Rank 0 checkpoints a mid-epoch step boundary; the run then ends with `stop` set.
    private func stopRun(at position: CheckpointPosition, trainer: Trainer, stepsPerEpoch: Int, fingerprint: String,
                         data: ShardSet) throws {
        try communicator.rootOnly {
            try directory.write(checkpoint(of: trainer, at: position, fingerprint: fingerprint, data: data),
                                at: position, keep: options.keepCheckpoints)
        }
        stop = TrainingStop(step: trainer.step, position: position, stepsPerEpoch: stepsPerEpoch,
                            requestingRanks: trainer.ranksRequestingStop, checkpointPath: directory.checkpointPath(position))
    }

    /// The trainer's state at a step boundary, as rank 0 saves it.
    ///
    /// Mid-epoch, the epoch's progress goes with it, so a resumed epoch reports what an
    /// uninterrupted one would.
    private func checkpoint(of trainer: Trainer, at position: CheckpointPosition, fingerprint: String,
                            data: ShardSet) -> Checkpoint {
        var state: [String: [Float]] = [:]
        for (stateName, buffer) in trainer.optimizer.state { state[stateName] = buffer.array }
        var checkpoint = Checkpoint(configuration: configuration, step: trainer.step, epoch: position.epoch,
                                    worldSize: communicator.size, dataFingerprint: fingerprint,
                                    parameters: trainer.parameters.array, optimizerName: trainer.optimizer.name,
                                    optimizerState: state)
        checkpoint.imageShape = data.imageShape
        if position.stepInEpoch > 0 {
            checkpoint.stepInEpoch = position.stepInEpoch
            checkpoint.partialEpochTerms = trainer.epochProgress.terms
            checkpoint.partialEpochSkippedSteps = trainer.epochProgress.skippedSteps
        }
        return checkpoint
    }

    // MARK: Set-up

    /// Opens (and, for the default data, first prepares) the data on every rank, checked
    /// to be the same everywhere (`TrainingData`).
    private func openData() throws -> TrainingData {
        var trainPath = options.dataPath
        var testPath = options.testDataPath
        if trainPath == nil {
            // Rank 0 prepares the default files; the others wait for the agreement, then open them.
            let paths = try communicator.rootFirst { try DefaultData.ensureFashionMNIST(log: log) }
            trainPath = paths.train
            if testPath == nil { testPath = paths.test }
        }
        let data = try TrainingData.open(train: trainPath!, test: testPath, communicator: communicator)
        try communicator.agreed { try checkSetup(train: data.train, test: data.test) }
        return data
    }

    /// The options against the data and the world size; the same verdict on every rank.
    private func checkSetup(train: ShardSet, test: ShardSet?) throws {
        if let test, test.featureCount != train.featureCount {
            throw TrainingSetupError("test data \(test.description) has \(test.featureCount) features per row, "
                                     + "but the training data \(train.description) has \(train.featureCount)")
        }
        configuration.architecture.dataDimension = train.featureCount
        let problems = configuration.problems
        if !problems.isEmpty { throw TrainingSetupError(problems.joined(separator: "; ")) }
        if configuration.globalBatch < communicator.size {
            throw TrainingSetupError("--batch \(configuration.globalBatch) is smaller than the \(communicator.size) ranks: "
                                     + "the global batch must give every rank at least one row")
        }
        if configuration.lastBatch == .drop && train.rowCount < configuration.globalBatch {
            throw TrainingSetupError("\(train.description) has \(train.rowCount) rows, fewer than one global batch of "
                                     + "\(configuration.globalBatch) with --last-batch drop: no step would run")
        }
        try configuration.requireMemory(rowCount: train.rowCount, ranks: communicator.size)
    }

    /// The trainer over this rank's rows, with the run's non-finite policy and stop requests.
    private func makeTrainer(_ trainSource: any MinibatchSource) throws -> Trainer {
        let trainer = try Trainer(configuration: configuration, communicator: communicator, trainData: trainSource,
                                  overlapAllreduce: options.overlapAllreduce, gradientExchange: options.gradientExchange,
                                  dormantUnits: options.dormantUnits)
        trainer.nonFinitePolicy = options.nonFinitePolicy
        trainer.stopRequested = options.stopRequested
        self.trainer = trainer
        return trainer
    }

    /// This rank's contiguous share of the test rows.
    ///
    /// Held in memory when the file fits a small budget (no decompression at every epoch
    /// end), else streamed.
    private func makeTestSource(_ testFile: ShardSet?) throws -> (any MinibatchSource)? {
        try communicator.agreed { () -> (any MinibatchSource)? in
            try testFile.map {
                try makeMinibatchSource(data: $0, mode: .auto, memoryBudget: 256 << 20,
                                        bernoulli: configuration.likelihood == .bernoulli)
            }
        }
    }
}
