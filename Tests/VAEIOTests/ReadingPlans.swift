import Foundation
import XCTest
import VAEIO

/// A plan covering every row in a scrambled order, steps of uneven size.
func scrambledPlan(rows: Int, batch: Int, multiplier: Int = 7919) -> [[Int]] {
    let order = (0..<rows).map { ($0 * multiplier + 13) % rows }
    return stride(from: 0, to: rows, by: batch).map { Array(order[$0..<min($0 + batch, rows)]) }
}

/// Steps of `batch` rows visiting blocks of `blockRows` rows in a scrambled block order,
/// the rows of each pair of blocks scrambled together: what a block shuffle reads.
func blockPlan(rows: Int, batch: Int, blockRows: Int) -> [[Int]] {
    let blocks = (rows + blockRows - 1) / blockRows
    let blockOrder = (0..<blocks).map { ($0 * 7 + 3) % blocks }
    var order: [Int] = []
    for pair in stride(from: 0, to: blocks, by: 2) {
        let window = blockOrder[pair..<min(pair + 2, blocks)].flatMap { ($0 * blockRows)..<min(($0 + 1) * blockRows, rows) }
        order += window.enumerated().sorted { ($0.offset * 31) % window.count < ($1.offset * 31) % window.count }.map(\.element)
    }
    return stride(from: 0, to: rows, by: batch).map { Array(order[$0..<min($0 + batch, rows)]) }
}

/// Every step's batch of one epoch of `plan`.
func readEpoch(_ source: MinibatchSource, plan: [[Int]]) throws -> [[Float]] {
    try source.beginEpoch(plan: plan)
    let capacity = (plan.map(\.count).max() ?? 0) * source.featureCount
    var batches: [[Float]] = []
    var buffer = [Float](repeating: .nan, count: capacity)
    for step in plan {
        let count = try buffer.withUnsafeMutableBufferPointer { try source.nextBatch(into: $0.baseAddress!) }
        XCTAssertEqual(count, step.count)
        batches.append(Array(buffer[0..<(count * source.featureCount)]))
    }
    return batches
}
