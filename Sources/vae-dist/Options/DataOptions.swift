import ArgumentParser
import VAECore
import VAEIO
import VAEParallel

/// `train`'s data: the files, how each rank holds them, and the global batch.
struct DataOptions: ParsableArguments {
    @Option(help: "Training data (HDF5 /features). Default: Fashion-MNIST train split.")
    var data: String?
    @Option(help: "Data evaluated after each epoch. Default: Fashion-MNIST test split when --data is not given.")
    var testData: String?
    @Option(help: "GLOBAL batch: rows per optimizer step summed over all ranks (default 128).")
    var batch: Int?
    @Option(help: "Short last batch of an epoch: partial (train on it) or drop (default partial).")
    var lastBatch: LastBatchPolicy?
    @Option(help: "How each rank holds the training rows: auto, memory or streaming.")
    var reading: ReadingMode = .auto
    @Option(help: "Bytes of training data each rank may hold, e.g. 512M (default: a share of physical memory).")
    var memoryBudget: String?

    func validate() throws {
        if let memoryBudget, parseByteCount(memoryBudget) == nil {
            throw ValidationError("--memory-budget must be a byte count like 512M or 2G, got '\(memoryBudget)'")
        }
    }

    /// Sets the batch options the user gave in `configuration`.
    func apply(to configuration: inout TrainingConfiguration) {
        if let batch { configuration.globalBatch = batch }
        if let lastBatch { configuration.lastBatch = lastBatch }
    }

    /// The files and the reading mode in `options`.
    func apply(to options: inout TrainingOptions) {
        options.dataPath = data
        options.testDataPath = testData
        options.readingMode = reading
        options.memoryBudget = memoryBudget.flatMap(parseByteCount)
    }
}
