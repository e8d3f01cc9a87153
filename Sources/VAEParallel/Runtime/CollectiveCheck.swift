/// Known-answer tests of every collective the trainer uses, run by `vae-dist mpi-check`.
///
/// Each check gives every rank inputs that depend on its rank, runs one collective, and
/// compares the result with the exact value computed from the ranks and the size. All
/// inputs are small integers (or multiples of 0.25) so that float sums are exact in any
/// summation order: a mismatch is a broken MPI setup, never rounding.
public struct CollectiveCheck: Sendable {
    public let name: String
    /// Runs the collectives and returns this rank's complaint, or nil when it agrees.
    let run: @Sendable (any Communicator) throws -> String?

    /// Every check, in the order `mpi-check` runs them.
    public static let all: [CollectiveCheck] = [
        CollectiveCheck(name: "allreduce sum Float32", run: checkFloatSum),
        CollectiveCheck(name: "allreduce sum Float64", run: checkDoubleSum),
        CollectiveCheck(name: "allreduce sum Int64 (beyond 32 bits)", run: checkInt64Sum),
        CollectiveCheck(name: "allreduce max/min Int64", run: checkInt64Extremes),
        CollectiveCheck(name: "allreduce max/min Float64", run: checkDoubleExtremes),
        CollectiveCheck(name: "broadcast Float32 from first and last rank", run: checkFloatBroadcast),
        CollectiveCheck(name: "broadcast String (UTF-8) and bytes", run: checkStringAndBytesBroadcast),
        CollectiveCheck(name: "gatherv Float32 rows (uneven, rank 0 empty)", run: checkGatherRows),
        CollectiveCheck(name: "barrier", run: { communicator in try communicator.barrier(); return nil }),
        CollectiveCheck(name: "fused allreduce with failure status (no failure)", run: checkFusedStatus),
    ]

    /// Runs the check and agrees on its outcome.
    ///
    /// Returns on every rank if it passed on every rank, otherwise throws the lowest
    /// failing rank's `RankFailure` everywhere.
    public func verify(on communicator: any Communicator) throws {
        let complaint: String?
        do {
            complaint = try run(communicator)
        } catch {
            complaint = failureMessage(error)
        }
        try communicator.agreeOnFailure(complaint.map { "check '\(name)' failed: \($0)" })
    }
}

/// The first element where `actual` differs from `expected(index)`, described.
private func firstMismatch<Element: Equatable>(
    _ actual: some Collection<Element>, _ expected: (Int) -> Element
) -> String? {
    for (index, value) in actual.enumerated() where value != expected(index) {
        return "element \(index) is \(value), expected \(expected(index))"
    }
    return nil
}

/// 1 + 2 + ... + size: the sum of (rank + 1) over the ranks.
private func triangle(_ size: Int) -> Int { size * (size + 1) / 2 }

private func checkFloatSum(_ communicator: any Communicator) throws -> String? {
    // 1031 elements: odd and not a power of two, so no algorithm's even split hides a bug.
    let pattern = { (index: Int) in index % 13 + 1 }
    var values = (0 ..< 1031).map { Float((communicator.rank + 1) * pattern($0)) }
    try values.withUnsafeMutableBufferPointer { try communicator.allreduce($0, .sum) }
    return firstMismatch(values) { Float(triangle(communicator.size) * pattern($0)) }
}

private func checkDoubleSum(_ communicator: any Communicator) throws -> String? {
    let rank = Double(communicator.rank), size = Double(communicator.size)
    var values = (0 ..< 257).map { rank * 0.25 + Double($0) * 1e6 }
    try values.withUnsafeMutableBufferPointer { try communicator.allreduce($0, .sum) }
    return firstMismatch(values) { 0.25 * size * (size - 1) / 2 + size * Double($0) * 1e6 }
}

private func checkInt64Sum(_ communicator: any Communicator) throws -> String? {
    var values = (0 ..< 64).map { Int64(communicator.rank + 1) << 40 + Int64($0) }
    try values.withUnsafeMutableBufferPointer { try communicator.allreduce($0, .sum) }
    let size = Int64(communicator.size)
    return firstMismatch(values) { Int64(triangle(communicator.size)) << 40 + size * Int64($0) }
}

private func checkInt64Extremes(_ communicator: any Communicator) throws -> String? {
    let rank = Int64(communicator.rank), last = Int64(communicator.size - 1)
    // Large and negative values: a 32-bit or unsigned reduction gets these wrong.
    let local = [rank * 1_000_000_007 - 5, -(rank << 35)]
    var maxima = local, minima = local
    try maxima.withUnsafeMutableBufferPointer { try communicator.allreduce($0, .max) }
    try minima.withUnsafeMutableBufferPointer { try communicator.allreduce($0, .min) }
    return firstMismatch(maxima) { [last * 1_000_000_007 - 5, 0][$0] }
        ?? firstMismatch(minima) { [-5, -(last << 35)][$0] }
}

private func checkDoubleExtremes(_ communicator: any Communicator) throws -> String? {
    let rank = Double(communicator.rank), last = Double(communicator.size - 1)
    let maximum = try communicator.allreduce(-1.5 * rank, .max)
    let minimum = try communicator.allreduce(-1.5 * rank, .min)
    return firstMismatch([maximum, minimum]) { [0, -1.5 * last][$0] }
}

private func checkFloatBroadcast(_ communicator: any Communicator) throws -> String? {
    for root in Set([0, communicator.size - 1]).sorted() {
        let expected = { (index: Int) in Float(index) * 0.5 + Float(root) }
        var values = (0 ..< 1000).map { communicator.rank == root ? expected($0) : Float.nan }
        try values.withUnsafeMutableBufferPointer { try communicator.broadcast($0, from: root) }
        if let mismatch = firstMismatch(values, expected) {
            return "from rank \(root): \(mismatch)"
        }
    }
    return nil
}

private func checkStringAndBytesBroadcast(_ communicator: any Communicator) throws -> String? {
    let root = communicator.size - 1
    let expectedText = "rank \(root) of \(communicator.size) says héllo ✓"
    let text = try communicator.broadcast(communicator.rank == root ? expectedText : "", from: root)
    if text != expectedText {
        return "string from rank \(root) arrived as \"\(text)\", expected \"\(expectedText)\""
    }
    // Not a multiple of any word size, so a truncated tail shows.
    let pattern = { (index: Int) in UInt8((index * 31 + 7) % 251) }
    let bytes = try communicator.broadcast(communicator.isRoot ? (0 ..< 100_003).map(pattern) : [], from: 0)
    if bytes.count != 100_003 {
        return "byte broadcast from rank 0 delivered \(bytes.count) bytes, expected 100003"
    }
    return firstMismatch(bytes, pattern).map { "byte broadcast from rank 0: \($0)" }
}

private func checkGatherRows(_ communicator: any Communicator) throws -> String? {
    // Rank r holds r rows of width 3 with value 100 r + 10 row + column.
    let width = 3
    let value = { (rank: Int, row: Int, column: Int) in Float(100 * rank + 10 * row + column) }
    let local = (0 ..< communicator.rank * width).map {
        value(communicator.rank, $0 / width, $0 % width)
    }
    let gathered = try local.withUnsafeBufferPointer { try communicator.gatherRows($0, width: width, to: 0) }
    guard communicator.isRoot else {
        return gathered == nil ? nil : "a non-root rank received the gathered rows"
    }
    guard let gathered else { return "the root received nothing" }
    let expectedRows = Array(0 ..< communicator.size)
    if gathered.rowsPerRank != expectedRows {
        return "rows per rank are \(gathered.rowsPerRank), expected \(expectedRows)"
    }
    var expected = [Float]()
    for rank in 0 ..< communicator.size {
        for row in 0 ..< rank {
            for column in 0 ..< width { expected.append(value(rank, row, column)) }
        }
    }
    if gathered.values.count != expected.count {
        return "gathered \(gathered.values.count) floats, expected \(expected.count)"
    }
    return firstMismatch(gathered.values) { expected[$0] }
}

private func checkFusedStatus(_ communicator: any Communicator) throws -> String? {
    var buffer = [Float](repeating: Float(communicator.rank + 1), count: 101)
    try buffer.withUnsafeMutableBufferPointer {
        try communicator.allreduceSum($0, reportingFailure: nil)
    }
    let total = Float(triangle(communicator.size))
    return firstMismatch(buffer) { $0 == 100 ? 0 : total }
}
