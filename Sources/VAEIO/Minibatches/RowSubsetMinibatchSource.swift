/// Some rows of a source, renumbered 0..<rows.count: the training or the validation rows of
/// a file split by `--validation-fraction`.
///
/// Plans name rows of the subset; the base source reads the file rows they stand for (a
/// base shared by a node's ranks gets their rows mapped too).
public final class RowSubsetMinibatchSource: MinibatchSource {
    private let base: any MinibatchSource
    /// File row of subset row i.
    public let rows: [Int]

    public init(base: any MinibatchSource, rows: [Int]) {
        precondition(rows.allSatisfy { $0 >= 0 && $0 < base.rowCount }, "subset rows lie in the base source")
        self.base = base
        self.rows = rows
    }

    public var rowCount: Int { rows.count }
    public var featureCount: Int { base.featureCount }
    public var nodeWorldRanks: [Int]? { base.nodeWorldRanks }

    public func beginEpoch(_ plan: ReadingPlan) throws {
        let fileRows = { (steps: [[Int]]) in steps.map { step in step.map { self.rows[$0] } } }
        try base.beginEpoch(ReadingPlan(rows: fileRows(plan.rows), nodeRows: fileRows(plan.nodeRows)))
    }

    public func nextBatch(into destination: UnsafeMutablePointer<Float>) throws -> Int {
        try base.nextBatch(into: destination)
    }
}
