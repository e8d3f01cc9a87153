/// The validation -ELBO after each epoch: the best so far, kept as checkpoint-best.h5, and
/// early stopping (`--validation-fraction`, `--early-stopping PATIENCE`).
///
/// Every rank holds the same one (the validation -ELBO is reduced over the ranks), so every
/// rank stops after the same epoch. The best value and epoch go into every checkpoint,
/// so a resumed run continues the watch where it was.
struct ValidationWatch {
    /// Epochs without a new best after which training stops; nil never stops early.
    let patience: Int?
    private(set) var best: (negativeELBO: Double, epoch: Int)?

    init(patience: Int?, best: (negativeELBO: Double, epoch: Int)? = nil) {
        self.patience = patience
        self.best = best
    }

    /// Records epoch `epoch`'s (1-based) validation -ELBO; true when it is a new best.
    mutating func record(_ negativeELBO: Double, epoch: Int) -> Bool {
        if let best, !(negativeELBO < best.negativeELBO) { return false }
        best = (negativeELBO, epoch)
        return true
    }

    /// Whether training stops after epoch `epoch` (1-based): `patience` epochs without a new best.
    func stops(after epoch: Int) -> Bool {
        guard let patience, let best else { return false }
        return epoch - best.epoch >= patience
    }

    /// The line that says why training stopped after `epoch`.
    func stopNote(after epoch: Int) -> String {
        guard let best else { return "" }
        return "early stopping after epoch \(epoch): validation -ELBO has not improved on \(fixed(best.negativeELBO)) "
            + "(epoch \(best.epoch)) for \(epoch - best.epoch) epoch\(epoch - best.epoch == 1 ? "" : "s") (--early-stopping "
            + "\(patience ?? 0)); the best model is \(RunDirectory.bestCheckpointName)"
    }
}
