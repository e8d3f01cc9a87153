/// The rows a minibatch source delivers in one epoch.
public struct ReadingPlan: Sendable {
    /// `rows[s]`: the data-set rows this rank reads at step s, in batch order.
    public var rows: [[Int]]
    /// `nodeRows[s]`: the rows every rank sharing this source's node memory reads at
    /// step s (this rank's among them), so that each rank can plan the node's reads alike.
    public var nodeRows: [[Int]]

    /// A plan for a source read by this rank alone.
    public init(rows: [[Int]]) {
        self.rows = rows
        nodeRows = rows
    }

    public init(rows: [[Int]], nodeRows: [[Int]]) {
        precondition(rows.count == nodeRows.count, "the node's plan must have this rank's steps")
        self.rows = rows
        self.nodeRows = nodeRows
    }
}
