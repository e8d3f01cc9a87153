import Foundation
import VAEIO

/// A run's data sets, opened on every rank and checked to be the same data everywhere.
///
/// Ranks that read different data hang or train silently wrong: differing row counts give
/// differing step counts (one rank waits forever in a step the others never take), and
/// same-shaped but different files train a model on a mixture. A stale node-local copy
/// is how it happens on clusters. So before step 1 every rank compares its rows, width,
/// dtype, scale and fingerprint with rank 0's, and a mismatch ends every rank with one
/// line naming the rank and its files.
struct TrainingData {
    let train: ShardSet
    let test: ShardSet?
    let fingerprint: String

    /// Opens `trainSpecification` and `testSpecification` (a file, glob or list file).
    ///
    /// Rank 0 alone reads the files whole for their checksums (one read of the data, not
    /// one per rank); the others open them only after that passed: HDF5 can hang on a
    /// damaged file (docs/faults.md).
    static func open(train trainSpecification: String, test testSpecification: String?,
                     communicator: any Communicator) throws -> TrainingData {
        try communicator.rootOnly {
            for specification in [trainSpecification] + (testSpecification.map { [$0] } ?? []) {
                try ShardSet.paths(specification).forEach(DataFile.verify)
            }
        }
        let train = try communicator.agreed { try ShardSet.open(trainSpecification, verifyingChecksums: false) }
        let test = try communicator.agreed { try testSpecification.map { try ShardSet.open($0, verifyingChecksums: false) } }
        let fingerprint = try communicator.agreed { try train.fingerprint() }
        try agree(on: train, fingerprint: fingerprint, what: "training data", communicator: communicator)
        if let test {
            let testFingerprint = try communicator.agreed { try test.fingerprint() }
            try agree(on: test, fingerprint: testFingerprint, what: "test data", communicator: communicator)
        }
        return TrainingData(train: train, test: test, fingerprint: fingerprint)
    }

    /// Every rank's data against rank 0's; the same verdict, and the first differing rank's line, everywhere.
    static func agree(on data: ShardSet, fingerprint: String, what: String, communicator: any Communicator) throws {
        guard communicator.size > 1 else { return }
        let summary = "\(data.rowCount) rows x \(data.featureCount) \(data.featureType.rawValue)"
            + (data.featureType == .uint8 ? " (scale \(data.scale))" : "") + ", fingerprint \(fingerprint)"
        let rootSummary = try communicator.broadcast(summary, from: 0)
        let rootData = try communicator.broadcast(data.description, from: 0)
        try communicator.agreeOnFailure(summary == rootSummary ? nil
            : "\(what) \(data.description) has \(summary), but rank 0's \(rootData) has \(rootSummary): every rank must "
                + "read the same data (a stale or partial copy on this rank's node?)")
    }
}
