/// A failed MPI call, with the library's own explanation.
public struct MPIError: Error, CustomStringConvertible {
    /// The MPI function that failed, e.g. "MPI_Allreduce".
    public let function: String
    /// MPI's error code.
    public let code: Int32
    /// MPI's error string for `code` (MPI_Error_string).
    public let message: String

    public var description: String { "\(function) failed: \(message) (MPI error \(code))" }
}
