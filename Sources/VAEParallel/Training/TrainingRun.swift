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
    /// The epoch after which early stopping ended the run; nil when it did not.
    public private(set) var earlyStopEpoch: Int?
    /// The validation -ELBO's best and early stopping (`--validation-fraction`).
    private var validationWatch: ValidationWatch
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
        validationWatch = ValidationWatch(patience: options.earlyStoppingPatience)
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
        if let resume {
            configuration = resume.configuration
            validationWatch = ValidationWatch(patience: options.earlyStoppingPatience, best: resume.checkpoint.bestValidation)
        }
        try communicator.agreed { try checkValidationSetup(rows: trainFile.rowCount) }
        // A new block-shuffled run takes its blocks from the data's storage (a resumed one keeps its checkpoint's).
        if configuration.shuffle == .blocks && configuration.blockShuffle == nil {
            configuration.blockShuffle = trainFile.storageBlockShuffle
        }
        let placement = try DataPlacement.make(data: trainFile, mode: options.readingMode,
                                               nodeBudget: options.memoryBudget ?? defaultMemoryBudget(),
                                               bernoulli: configuration.likelihood == .bernoulli, communicator: communicator)
        let (trainSource, validationSource) = try trainingAndValidationRows(of: placement.source, data: trainFile)
        // Before the trainer: its start-up checks run GEMMs on the engine. Timed at the
        // rows the first rank holds in its largest step.
        let stepRows = EpochSchedule.largestStep(rowCount: trainSource.rowCount, globalBatch: configuration.globalBatch)
        let gemm = Trainer.gemmRequest(options.gemm, configuration: configuration,
                                       reproducible: options.reproducible, trained: configuration.gemm)
        configuration.gemm = try GEMMSetup.install(
            request: gemm.request, configuration: configuration,
            rowsPerRank: EpochSchedule.rankRange(batchSize: stepRows, rank: 0, size: communicator.size).count,
            communicator: communicator).backend
        if let reason = gemm.reason { GEMMRuntime.use(GEMMRuntime.engine, reason: reason) }
        let testSource = try makeTestSource(testFile)
        let trainer = try makeTrainer(trainSource)
        if let resume { try communicator.agreed { try trainer.restore(from: resume.checkpoint) } }
        let initialWeights = resume == nil ? try options.initFrom.map { try loadInitialWeights($0, into: trainer) } : nil
        var tensorboard: TensorBoardLog?
        try communicator.rootOnly {
            if lock == nil { lock = try directory.lock(forNewRun: resume == nil) }
            if let resume, options.resume != "latest" { try directory.requireOwnCheckpoints(resumingFrom: resume.path) }
            try directory.prepare(resumingAfterEpoch: resume?.checkpoint.epoch, configuration: configuration,
                                  initFrom: initialWeights?.path)
            if options.tensorboard {
                tensorboard = try TensorBoardLog(directory: directory.path, resumingAfterStep: resume?.checkpoint.step,
                                                 imageShape: try tensorboardImageShape(trainFile))
            }
        }
        communicator.printOnRoot(TrainingBanner(configuration: configuration, ranks: communicator.size, trainFile: trainFile,
                                                testFile: testFile, memory: placement.description, trainer: trainer,
                                                runDirectory: options.runDirectory,
                                                validationRows: validationSource?.rowCount ?? 0,
                                                earlyStopping: options.earlyStoppingPatience).text,
                                 to: log)
        if let resume {
            communicator.printOnRoot(resume.note(ranks: communicator.size, reproducible: trainer.isReproducible), to: log)
        }
        if let initialWeights {
            communicator.printOnRoot("  init     weights of \(initialWeights.path) (epoch \(initialWeights.checkpoint.epoch), "
                                     + "step \(initialWeights.checkpoint.step)); a fresh optimizer, from step 0", to: log)
        } else if resume != nil, let initFrom = options.initFrom {
            communicator.printOnRoot("  init     --init-from \(initFrom) not used: the resumed run's own checkpoint holds its weights", to: log)
        }

        let stepsPerEpoch = trainer.stepsPerEpoch(rowCount: trainSource.rowCount)
        let firstEpoch = resume?.firstEpoch ?? 0
        if let resume, resume.checkpoint.stepInEpoch == 0, validationWatch.stops(after: resume.checkpoint.epoch) {
            // The run already ended early: there is nothing more to train.
            communicator.printOnRoot("vae-dist: " + validationWatch.stopNote(after: resume.checkpoint.epoch), to: log)
            earlyStopEpoch = resume.checkpoint.epoch
            return metrics
        }
        let start = Date()
        for epoch in firstEpoch..<configuration.epochs {
            let epochStart = Date()
            let resuming = epoch == firstEpoch ? resume?.progress ?? EpochProgress() : EpochProgress()
            let progress = ProgressReporter(style: communicator.isRoot ? options.progress : .off,
                                            title: "epoch \(epoch + 1)/\(configuration.epochs)", total: stepsPerEpoch,
                                            unit: "steps", rateUnit: "samples/s")
            var previous = resuming.terms
            let configuration = self.configuration
            let train = try trainer.trainEpoch(epoch, resuming: resuming) { step, _ in
                let terms = trainer.epochProgress.terms
                progress.update(done: step, items: terms.rows - resuming.terms.rows,
                                status: terms.rows > 0 ? "-ELBO " + fixed(terms.negativeELBOPerRow) : nil)
                tensorboard?.step(trainer.step, epochTerms: terms, before: previous,
                                  learningRate: Double(configuration.learningRate(step: trainer.step, stepsPerEpoch: stepsPerEpoch)))
                previous = terms
            }
            progress.finish()
            if trainer.epochProgress.completedSteps < stepsPerEpoch {
                // Stopped on request mid-epoch: save this exact step boundary and end the run.
                try communicator.rootOnly { try tensorboard?.flush() }
                try stopRun(at: CheckpointPosition(epoch: epoch, stepInEpoch: trainer.epochProgress.completedSteps),
                            trainer: trainer, stepsPerEpoch: stepsPerEpoch, fingerprint: fingerprint, data: trainFile)
                return metrics
            }
            let epochSeconds = Date().timeIntervalSince(epochStart)
            let validation = try validationSource.map { try trainer.evaluate($0) }
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
                dormantUnits: trainer.dormantUnits?.dormantCount,
                learningRate: Double(configuration.learningRate(step: trainer.step, stepsPerEpoch: stepsPerEpoch)),
                time: ISO8601DateFormatter().string(from: Date()),
                validationNegativeELBO: validation?.negativeELBOPerRow)
            metrics.append(epochMetrics)
            // Every rank has the same reduced validation -ELBO, so the same verdicts.
            let isBest = validation.map { validationWatch.record($0.negativeELBOPerRow, epoch: epoch + 1) } ?? false
            let isLast = epoch + 1 == configuration.epochs
            let stopsEarly = validationWatch.stops(after: epoch + 1) && !isLast
            // A stop requested at the epoch's last step still gets its checkpoint, whatever --checkpoint-every says.
            let stopping = trainer.ranksRequestingStop > 0 && !isLast
            let position = CheckpointPosition(epoch: epoch + 1, stepInEpoch: 0)
            try communicator.rootOnly {
                log(epochMetrics.line)
                try directory.appendMetrics(epochMetrics)
                let saved = checkpoint(of: trainer, at: position, fingerprint: fingerprint, data: trainFile)
                try tensorboard?.epoch(epochMetrics, model: PictureModel(checkpoint: saved), seed: configuration.seed)
                if isLast || stopping || stopsEarly || (epoch + 1) % options.checkpointEvery == 0 {
                    try directory.write(saved, at: position, keep: options.keepCheckpoints)
                }
                if isBest { try directory.writeBest(saved) }
                if stopsEarly { log("vae-dist: " + validationWatch.stopNote(after: epoch + 1)) }
            }
            if stopsEarly && !stopping {
                earlyStopEpoch = epoch + 1
                return metrics
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
        checkpoint.bestValidation = validationWatch.best
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
        configuration.architecture.fit(dataDimension: train.featureCount,
                                       imageShape: train.imageShape.map { [$0.channels, $0.height, $0.width] })
        let problems = configuration.problems
        if !problems.isEmpty { throw TrainingSetupError(problems.joined(separator: "; ")) }
        if configuration.globalBatch < communicator.size {
            throw TrainingSetupError("--batch \(configuration.globalBatch) is smaller than the \(communicator.size) ranks: "
                                     + "the global batch must give every rank at least one row")
        }
        let held = configuration.validationRowCount(rowCount: train.rowCount), trainingRows = train.rowCount - held
        if configuration.lastBatch == .drop && trainingRows < configuration.globalBatch {
            let rows = "\(train.rowCount) rows" + (held > 0 ? " (\(trainingRows) to train on, \(held) held out for validation)" : "")
            throw TrainingSetupError("\(train.description) has \(rows), fewer than one global batch of "
                                     + "\(configuration.globalBatch) with --last-batch drop: no step would run")
        }
        try configuration.requireMemory(rowCount: train.rowCount, ranks: communicator.size)
    }

    /// `--init-from`: another run's weights for this new run, read on every rank (as a
    /// resumed checkpoint is). The model must be the same shape; the optimizer starts afresh.
    private func loadInitialWeights(_ request: String, into trainer: Trainer) throws -> (path: String, checkpoint: Checkpoint) {
        try communicator.agreed {
            let path = try CheckpointLocation.resolve(request).path
            let checkpoint = try Checkpoint.read(path)
            let theirs = checkpoint.configuration.architecture, ours = configuration.architecture
            guard theirs == ours else {
                var asTheirs = configuration
                asTheirs.architecture = theirs
                throw TrainingSetupError("--init-from \(path): its model differs from this run's in "
                                         + "\(ResumePlan.differences(asTheirs, configuration)); the weights fit only the same architecture")
            }
            try trainer.initializeParameters(from: checkpoint)
            return (path, checkpoint)
        }
    }

    /// The shape `--tensorboard-images` draws rows in; nil when not asked for, or when the
    /// rows are no image (said once, and training goes on without pictures).
    private func tensorboardImageShape(_ trainFile: ShardSet) throws -> ImageShape? {
        guard options.tensorboardImages else { return nil }
        do {
            return try ImageShape.resolve(explicit: nil, dataFile: nil, checkpoint: trainFile.imageShape,
                                          featureCount: configuration.architecture.dataDimension)
        } catch {
            log("vae-dist: note: --tensorboard-images: \(failureMessage(error)); writing no images")
            return nil
        }
    }

    /// `--validation-fraction` and `--early-stopping` against the data; the same verdict on every rank.
    private func checkValidationSetup(rows: Int) throws {
        if options.earlyStoppingPatience != nil, configuration.validationFraction == nil {
            throw TrainingSetupError("--early-stopping watches the validation -ELBO: give --validation-fraction too, e.g. 0.1")
        }
        if configuration.validationFraction != nil, rows < 2 {
            throw TrainingSetupError("--validation-fraction needs at least 2 rows, one to train on and one to validate; the data has \(rows)")
        }
    }

    /// The training rows and, with `--validation-fraction`, the validation rows held out of
    /// them, each numbered 0..<count in file order (`RowSubsetMinibatchSource`).
    ///
    /// Training reads through the run's reader (a block shuffle of its numbers still reads
    /// nearly consecutive file rows); the validation rows, like the test file, through a
    /// reader of this rank's own, since each rank evaluates its share alone.
    private func trainingAndValidationRows(of source: any MinibatchSource, data: ShardSet) throws
        -> (train: any MinibatchSource, validation: (any MinibatchSource)?) {
        let held = configuration.validationRowCount(rowCount: source.rowCount)
        guard held > 0 else { return (source, nil) }
        let validationRows = RandomStreams(seed: configuration.seed).validationRows(rowCount: source.rowCount, count: held)
        var isValidation = [Bool](repeating: false, count: source.rowCount)
        for row in validationRows { isValidation[row] = true }
        let trainingRows = (0..<source.rowCount).filter { !isValidation[$0] }
        let own = try communicator.agreed {
            try makeMinibatchSource(data: data, mode: .auto, memoryBudget: 256 << 20, bernoulli: configuration.likelihood == .bernoulli)
        }
        return (RowSubsetMinibatchSource(base: source, rows: trainingRows), RowSubsetMinibatchSource(base: own, rows: validationRows))
    }

    /// The trainer over this rank's rows, with the run's non-finite policy and stop requests.
    private func makeTrainer(_ trainSource: any MinibatchSource) throws -> Trainer {
        let trainer = try Trainer(configuration: configuration, communicator: communicator, trainData: trainSource,
                                  overlapAllreduce: options.overlapAllreduce, gradientExchange: options.gradientExchange,
                                  dormantUnits: options.dormantUnits, reproducible: options.reproducible)
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
