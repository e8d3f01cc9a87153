import ArgumentParser
import VAECore
import VAEIO
import VAEParallel

/// `train`'s data: the files, how each rank holds them, and the global batch.
struct DataOptions: ParsableArguments {
    @Option(help: "Training data (HDF5 /features): a file, several as one data set by a quoted glob ('shards/train-*.h5') or a list file (.txt, one path per line). Default: Fashion-MNIST train split.")
    var data: String?
    @Option(help: "Data evaluated after each epoch (a file, glob or list file). Default: Fashion-MNIST test split when --data is not given.")
    var testData: String?
    @Option(help: "Epoch order: blocks (storage blocks shuffled, rows shuffled within windows of 4 MiB of blocks: streams at in-memory speed) or rows (every row shuffled) (default blocks).")
    var shuffle: ShuffleMode?
    @Option(help: "Hold out this share of the training rows for validation (a fixed split of the seed), evaluated after each epoch; the best epoch is kept as checkpoint-best.h5 (default none).")
    var validationFraction: Double?
    @Option(help: "GLOBAL batch: rows per optimizer step summed over all ranks (default 128).")
    var batch: Int?
    @Option(help: "Short last batch of an epoch: partial (train on it) or drop (default partial).")
    var lastBatch: LastBatchPolicy?
    @Option(help: "How the training rows are held: memory (one copy per node, in shared memory), streaming (a read-ahead within the budget), or auto: in memory when they fit the budget.")
    var reading: ReadingMode = .auto
    @Option(help: "Bytes of training data each node may hold, its ranks together, e.g. 512M or 8G (default: a quarter of physical memory).")
    var memoryBudget: String?

    func validate() throws {
        if let memoryBudget, parseByteCount(memoryBudget) == nil {
            throw ValidationError("--memory-budget must be a byte count like 512M or 2G, got '\(memoryBudget)'")
        }
    }

    /// Sets the batch options the user gave in `configuration`.
    func apply(to configuration: inout TrainingConfiguration) {
        if let batch { configuration.globalBatch = batch }
        if let validationFraction { configuration.validationFraction = validationFraction }
        if let lastBatch { configuration.lastBatch = lastBatch }
        if let shuffle { configuration.shuffle = shuffle }
    }

    /// The files and the reading mode in `options`.
    func apply(to options: inout TrainingOptions) {
        options.dataPath = data
        options.testDataPath = testData
        options.readingMode = reading
        options.memoryBudget = memoryBudget.flatMap(parseByteCount)
    }
}
