import Foundation
import VAECore

/// A training checkpoint (README, "File layouts"; its checksum header: docs/faults.md):
/// the model as a PyTorch-style state_dict under /model, the optimizer's state under
/// /optimizer/<state>/, and everything needed to continue or to trust the file as root
/// attributes.
public struct Checkpoint {
    public static let format = "vae-dist-checkpoint"
    public static let formatVersion = 1

    public var configuration: TrainingConfiguration
    /// Optimizer steps taken.
    public var step: Int
    /// Epochs completed.
    public var epoch: Int
    /// Steps of epoch `epoch + 1` already taken: 0 for the end-of-epoch checkpoints,
    /// more when training stopped mid-epoch on a signal (preemption).
    public var stepInEpoch = 0
    /// The loss sums of those steps (so the resumed epoch reports the whole epoch).
    public var partialEpochTerms = LossTerms()
    /// Steps of those skipped under `--on-nonfinite skip`.
    public var partialEpochSkippedSteps = 0
    /// Ranks of the run that wrote it (results depend on it only through summation order).
    public var worldSize: Int
    public var dataFingerprint: String
    /// The flat parameter buffer, in `configuration.architecture.parameterLayout` order.
    public var parameters: [Float]
    public var optimizerName: String
    /// Each optimizer state buffer, flat like the parameters.
    public var optimizerState: [String: [Float]]
    /// The training data's image shape (its `image_shape`), so that the picture commands
    /// can draw rows without the data file; nil when the data had none.
    public var imageShape: ImageShape?
    /// The lowest validation -ELBO of the run so far and its epoch (`--validation-fraction`),
    /// so a resumed run keeps `checkpoint-best.h5` and early stopping where they were.
    public var bestValidation: (negativeELBO: Double, epoch: Int)?

    public init(configuration: TrainingConfiguration, step: Int, epoch: Int, worldSize: Int,
                dataFingerprint: String, parameters: [Float], optimizerName: String,
                optimizerState: [String: [Float]]) {
        self.configuration = configuration
        self.step = step
        self.epoch = epoch
        self.worldSize = worldSize
        self.dataFingerprint = dataFingerprint
        self.parameters = parameters
        self.optimizerName = optimizerName
        self.optimizerState = optimizerState
    }

    /// Writes the checkpoint atomically: `path` holds the old file or the whole new one,
    /// with a checksum header in front (ChecksumHeader.swift).
    public func write(to path: String) throws {
        let layout = configuration.architecture.parameterLayout
        guard parameters.count == layout.totalCount else {
            throw DataError(file: path, "internal error: \(parameters.count) parameters for a layout of \(layout.totalCount)")
        }
        // Never replace a good checkpoint with one that cannot be resumed from.
        guard parameters.allSatisfy(\.isFinite), optimizerState.values.allSatisfy({ $0.allSatisfy(\.isFinite) }) else {
            throw DataError(file: path, "refusing to write a checkpoint holding NaN or Inf parameters or optimizer state")
        }
        try writeHDF5FileAtomically(to: path) { try store(in: $0) }
    }

    /// The checkpoint's groups, datasets and attributes, into a new open file.
    func store(in file: HDF5File) throws {
        let layout = configuration.architecture.parameterLayout
        let root = try file.root()
        try root.setAttribute("format", Self.format)
        try root.setAttribute("format_version", Self.formatVersion)
        try root.setAttribute("step", step)
        try root.setAttribute("epoch", epoch)
        try root.setAttribute("step_in_epoch", stepInEpoch)
        if stepInEpoch > 0 {
            try root.setAttribute("epoch_loss_sum", partialEpochTerms.loss)
            try root.setAttribute("epoch_reconstruction_sum", partialEpochTerms.reconstruction)
            try root.setAttribute("epoch_kl_sum", partialEpochTerms.kl)
            try root.setAttribute("epoch_rows", partialEpochTerms.rows)
            try root.setAttribute("epoch_skipped_steps", partialEpochSkippedSteps)
        }
        try root.setAttribute("seed", String(configuration.seed))
        try root.setAttribute("rng", "philox4x32-10; key = seed; counters per docs/algorithm.md")
        try root.setAttribute("world_size", worldSize)
        try root.setAttribute("data_fingerprint", dataFingerprint)
        try root.setAttribute("optimizer", optimizerName)
        try root.setJSONAttribute("config", configuration)
        if let imageShape { try root.setAttribute(ImageShape.attributeName, imageShape.dimensions) }
        if let bestValidation {
            try root.setAttribute("best_validation_neg_elbo", bestValidation.negativeELBO)
            try root.setAttribute("best_validation_epoch", bestValidation.epoch)
        }
        _ = try root.createGroup("model")
        for spec in layout.tensors {
            try root.writeDataset("model/\(spec.name)", Array(parameters[spec.offset..<spec.offset + spec.count]),
                                  shape: spec.shape)
        }
        _ = try root.createGroup("optimizer")
        for (state, values) in optimizerState.sorted(by: { $0.key < $1.key }) {
            for spec in layout.tensors {
                try root.writeDataset("optimizer/\(state)/\(spec.name)",
                                      Array(values[spec.offset..<spec.offset + spec.count]), shape: spec.shape)
            }
        }
    }

    /// Reads and validates a checkpoint; every problem names the file and what was expected.
    public static func read(_ path: String) throws -> Checkpoint {
        try InputFile.requireRegularFile(path, expected: "a checkpoint file", missing: "no such checkpoint file")
        // Before HDF5 sees the file: HDF5 can hang on a damaged one (docs/faults.md).
        try FileChecksum.verify(path, kind: "checkpoint")
        guard HDF5File.isHDF5(path) else {
            throw DataError(file: path, "is not an HDF5 file (truncated or corrupt checkpoint?)")
        }
        let file = try HDF5File.open(path)
        let root = try file.root()
        guard try root.stringAttribute("format") == format else {
            throw DataError(file: path, "is not a vae-dist checkpoint (root attribute format is not '\(format)')")
        }
        if let version = try root.intAttribute("format_version"), version > formatVersion {
            throw DataError(file: path, "has checkpoint format_version \(version); this vae-dist reads \(formatVersion) or older")
        }
        func required<T>(_ name: String, _ value: T?) throws -> T {
            guard let value else { throw DataError(file: path, "checkpoint lacks the root attribute '\(name)'") }
            return value
        }
        let configuration = try required("config", try root.jsonAttribute("config", as: TrainingConfiguration.self))
        if let convolution = configuration.architecture.convolution,
           let problem = convolution.problems(dataDimension: configuration.architecture.dataDimension).first {
            throw DataError(file: path, "the checkpoint's config describes no model: \(problem)")
        }
        let layout = configuration.architecture.parameterLayout
        func readFlat(_ group: String) throws -> [Float] {
            var flat = [Float](repeating: 0, count: layout.totalCount)
            for spec in layout.tensors {
                let name = "\(group)/\(spec.name)"
                guard try root.contains(name) else {
                    throw DataError(file: path, object: "/\(name)", "missing from the checkpoint")
                }
                let dataset = try root.openDataset(name)
                let shape = try dataset.shape()
                guard shape == spec.shape else {
                    throw DataError(file: path, object: "/\(name)", "has shape \(shape), expected \(spec.shape) from the checkpoint's config")
                }
                let values: [Float] = try dataset.read()
                flat.replaceSubrange(spec.offset..<spec.offset + spec.count, with: values)
            }
            guard flat.allSatisfy(\.isFinite) else {
                throw DataError(file: path, object: "/\(group)", "holds NaN or Inf values")
            }
            return flat
        }
        let parameters = try readFlat("model")
        var optimizerState: [String: [Float]] = [:]
        if try root.contains("optimizer") {
            for (state, kind) in try root.openGroup("optimizer").children() where kind == .group {
                optimizerState[state] = try readFlat("optimizer/\(state)")
            }
        }
        var checkpoint = Checkpoint(
            configuration: configuration,
            step: try required("step", try root.intAttribute("step")),
            epoch: try required("epoch", try root.intAttribute("epoch")),
            worldSize: try required("world_size", try root.intAttribute("world_size")),
            dataFingerprint: try required("data_fingerprint", try root.stringAttribute("data_fingerprint")),
            parameters: parameters,
            optimizerName: try required("optimizer", try root.stringAttribute("optimizer")),
            optimizerState: optimizerState)
        checkpoint.stepInEpoch = try root.intAttribute("step_in_epoch") ?? 0
        if let best = try root.doubleAttribute("best_validation_neg_elbo") {
            checkpoint.bestValidation = (best, try required("best_validation_epoch", try root.intAttribute("best_validation_epoch")))
        }
        if let shape = try ImageShape.attribute(of: root) {
            guard shape.valueCount == configuration.architecture.dataDimension else {
                throw DataError(file: path, object: "/", "attribute \(ImageShape.attributeName) \(shape) is not an image "
                                + "shape of the model's \(configuration.architecture.dataDimension) values per row")
            }
            checkpoint.imageShape = shape
        }
        guard checkpoint.step >= 0, checkpoint.epoch >= 0, checkpoint.stepInEpoch >= 0, checkpoint.worldSize >= 1 else {
            throw DataError(file: path, "has step \(checkpoint.step), epoch \(checkpoint.epoch), step_in_epoch "
                            + "\(checkpoint.stepInEpoch), world_size \(checkpoint.worldSize): expected counts >= 0 and a world size >= 1")
        }
        if checkpoint.stepInEpoch > 0 {
            checkpoint.partialEpochTerms.loss = try required("epoch_loss_sum", try root.doubleAttribute("epoch_loss_sum"))
            checkpoint.partialEpochTerms.reconstruction = try required(
                "epoch_reconstruction_sum", try root.doubleAttribute("epoch_reconstruction_sum"))
            checkpoint.partialEpochTerms.kl = try required("epoch_kl_sum", try root.doubleAttribute("epoch_kl_sum"))
            checkpoint.partialEpochTerms.rows = try required("epoch_rows", try root.intAttribute("epoch_rows"))
            checkpoint.partialEpochSkippedSteps = try required("epoch_skipped_steps", try root.intAttribute("epoch_skipped_steps"))
        }
        return checkpoint
    }
}
