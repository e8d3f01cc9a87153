/// The data source broke the schedule's promise: a programming error, reported as one line.
public enum TrainingDataError: Error, CustomStringConvertible {
    case unexpectedBatch(expected: Int, got: Int)

    public var description: String {
        switch self {
        case let .unexpectedBatch(expected, got):
            return "internal error: the data source returned \(got) rows where the schedule has \(expected)"
        }
    }
}
