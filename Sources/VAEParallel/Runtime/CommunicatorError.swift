/// Misuse of the communicator's life cycle, or a launch MPI does not see as described.
///
/// The second is a launcher that announced N tasks while MPI sees another size.
public struct CommunicatorError: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// A `gatherv` whose total exceeds MPI's int displacements.
///
/// Every rank computes the same total from the same exchanged counts, so every rank
/// throws it at the same point.
public struct GatherTooLarge: CollectiveError, CustomStringConvertible {
    public let elementCount: Int

    public var description: String {
        "cannot gather \(elementCount) elements in one MPI_Gatherv: MPI limits it to \(Int32.max)"
    }
}
