/// Whether training skips the first encoder layer's dormant units (`--dormant-units`).
public enum DormantUnitsChoice: String, CaseIterable, Codable, Sendable {
    /// Leave the first layer's units provably off on every training row out of its forward.
    ///
    /// Only when the BLAS kernel gives the dense product's bits (checked at start).
    case skip
    /// Compute every unit on every step.
    case compute
}
