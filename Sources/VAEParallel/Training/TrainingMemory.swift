import VAECore

extension TrainingConfiguration {
    /// Refuses, in one line naming the sizes, a model and batch whose buffers this node
    /// cannot hold, before any is allocated (`MemoryEstimate`).
    ///
    /// The rows per rank are those of the largest step the data allows: a `--batch`
    /// beyond the data's rows costs nothing.
    public func requireMemory(rowCount: Int, ranks: Int) throws {
        let stepRows = EpochSchedule.largestStep(rowCount: rowCount, globalBatch: globalBatch)
        let rowsPerRank = EpochSchedule.rankRange(batchSize: stepRows, rank: ranks - 1, size: ranks).count
        let shape = architecture.convolution == nil
            ? ([architecture.dataDimension] + architecture.hiddenSizes + [architecture.latentDimension])
                .map(String.init).joined(separator: "-")
            : architecture.summary
        let parameters = architecture.checkedParameterCount.map { "\($0) parameters" } ?? "more parameters than an Int counts"
        try NodeMemory.require(
            trainingBytes(rowsPerRank: rowsPerRank),
            for: "training the \(shape) model (\(parameters), \(optimizer.rawValue)) on \(rowsPerRank) rows per rank "
                + "x --samples \(samples)")
    }
}
