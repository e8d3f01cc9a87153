import Foundation
import VAECore
import VAEIO

/// Rank 0's TensorBoard event file of a run (`--tensorboard`; docs/training.md).
///
/// Every step: the -ELBO of its global batch and the learning rate. Every epoch: the
/// epoch's train (and validation and test) -ELBO, reconstruction and KL, the KL weight,
/// the learning rate and samples/s; with `--tensorboard-images`, 64 decoded prior draws.
/// The x axis is the optimizer step. A resumed run first cuts the run's event files back
/// to its checkpoint's step, so its curves are an uninterrupted run's, each step once.
final class TensorBoardLog {
    private let writer: TensorBoardEventWriter
    /// The shape prior draws are drawn in; nil when no images are asked for.
    private let imageShape: ImageShape?

    init(directory: String, resumingAfterStep step: Int?, imageShape: ImageShape?) throws {
        if let step { try TensorBoardEventWriter.truncateRun(directory: directory, afterStep: step) }
        writer = try TensorBoardEventWriter(directory: directory)
        self.imageShape = imageShape
    }

    /// One step's numbers: the epoch's global sums after it and before it.
    func step(_ step: Int, epochTerms terms: LossTerms, before previous: LossTerms, learningRate: Double) {
        let rows = terms.rows - previous.rows
        guard rows > 0 else { return }  // a skipped step (--on-nonfinite skip) adds nothing
        let negativeELBO = (terms.reconstruction - previous.reconstruction + terms.kl - previous.kl) / Double(rows)
        writer.scalar("step/train_neg_elbo", negativeELBO, step: step)
        writer.scalar("step/learning_rate", learningRate, step: step)
    }

    /// An epoch's numbers at optimizer step `step`, and its pictures of `model`.
    func epoch(_ metrics: EpochMetrics, model: @autoclosure () -> PictureModel, seed: UInt64) throws {
        let step = metrics.step
        var scalars: [(String, Double?)] = [
            ("train/neg_elbo", metrics.trainNegativeELBO), ("train/reconstruction", metrics.trainReconstruction),
            ("train/kl", metrics.trainKL), ("train/kl_weight", metrics.klWeight),
            ("validation/neg_elbo", metrics.validationNegativeELBO),
            ("test/neg_elbo", metrics.testNegativeELBO), ("test/reconstruction", metrics.testReconstruction),
            ("test/kl", metrics.testKL),
            ("optimizer/learning_rate", metrics.learningRate), ("speed/samples_per_s", metrics.samplesPerSecond),
        ]
        scalars.removeAll { $0.1 == nil }
        for (tag, value) in scalars { writer.scalar(tag, value!, step: step) }
        if let imageShape {
            let picture = Pictures.samples(model: model(), shape: imageShape, count: 64, seed: seed, temperature: 1)
            let grid = picture.grid
            writer.image("samples/prior_draws", png: try grid.png(), width: grid.pixelWidth, height: grid.pixelHeight,
                         channels: grid.channels, step: step)
        }
        try writer.flush()
    }

    /// Writes what is pending (a run stopping mid-epoch).
    func flush() throws { try writer.flush() }
}
