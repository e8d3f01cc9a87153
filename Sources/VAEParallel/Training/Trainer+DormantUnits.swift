import VAECore

// The first encoder layer's dormant units (docs/performance.md): chosen at start,
// observed over each epoch, decided at its end on every rank alike.
extension Trainer {
    /// The dormant-unit tracker, or nil and why not (for the banner).
    ///
    /// Used when asked for, the encoder is ReLU, and every rank's BLAS computes the
    /// compact product with the dense one's bits (agreed: the epoch-end reduction is
    /// collective).
    static func makeDormantUnits(
        choice: DormantUnitsChoice, objective: ELBOObjective, communicator: any Communicator,
        configuration: TrainingConfiguration, trainingRows: Int
    ) throws -> (DormantUnits?, String) {
        guard choice == .skip else { return (nil, "computed (--dormant-units compute)") }
        guard let tracker = objective.makeDormantUnits() else { return (nil, "not tracked (the encoder is not a ReLU MLP)") }
        let (rank, size) = (communicator.rank, communicator.size)
        let batch = EpochSchedule.largestStep(rowCount: trainingRows, globalBatch: configuration.globalBatch)
        let lastBatch = configuration.lastBatch == .partial ? trainingRows % batch : 0
        let rowCounts = [batch, lastBatch].map { EpochSchedule.rankRange(batchSize: $0, rank: rank, size: size).count }
        let matches: Int64 = DormantUnits.compactProductMatchesDense(layer: tracker.layer, rowCounts: rowCounts) ? 1 : 0
        guard try communicator.allreduce(matches, .min) == 1 else {
            return (nil, "computed: this BLAS kernel's sums depend on the matrix width (resuming must stay bitwise)")
        }
        return (tracker, "skipped in the forward once provably off on every training row")
    }

    /// Decides which units are dormant from the next epoch on.
    ///
    /// The epoch's observations of the first layer are combined over ranks first.
    func endDormantObservation(_ tracker: DormantUnits) throws {
        tracker.distrustQuietRows()  // the epoch ends with a full comparison
        tracker.verify(parameters: parameters.pointer)
        try communicator.allreduce(tracker.observations.buffer, .max)
        let rowsSeen = try communicator.allreduce(Int64(tracker.rowsObserved), .sum)
        tracker.endEpoch(reducedObservations: tracker.observations.pointer, rowsSeen: Int(rowsSeen),
                         trainingRows: trainData.rowCount)
        // Adam then updates the weights of those whose first moments are +0 in a cheaper pass with
        // the same bits, and says when it wrote none of them, so `verify` can skip their rows.
        if let quiet = optimizer as? any QuietRangeOptimizer {
            quiet.quietRangesHint = tracker.quietWeightRanges(where: quiet.canStayQuiet)
        }
    }
}
