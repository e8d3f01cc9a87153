import XCTest
@testable import VAECore

/// `--shuffle blocks`: what docs/algorithm.md ("Epoch shuffle") defines.
final class EpochOrderTests: XCTestCase {
    func testEachEpochsBlockOrderIsAPermutationOfAllRows() {
        let streams = RandomStreams(seed: 11)
        // Rows a multiple of the block or not, windows of one block, of several, of more than all.
        for (rows, blockRows, windowBlocks) in [(1000, 83, 65), (1000, 100, 3), (997, 10, 1), (50, 7, 100), (1, 1, 1), (5, 9, 2)] {
            let shuffle = BlockShuffle(blockRows: blockRows, windowBlocks: windowBlocks)
            for epoch in 0..<3 {
                let order = streams.blockEpochOrder(epoch: epoch, rowCount: rows, shuffle: shuffle)
                XCTAssertEqual(order.sorted(), Array(0..<rows), "\(rows) rows, blocks of \(blockRows), windows of \(windowBlocks)")
            }
        }
    }

    func testEachWindowHoldsWholeBlocksAndMixesTheirRows() {
        let streams = RandomStreams(seed: 5)
        let shuffle = BlockShuffle(blockRows: 10, windowBlocks: 4)
        let order = streams.blockEpochOrder(epoch: 2, rowCount: 395, shuffle: shuffle)
        var start = 0
        var windows = 0
        while start < order.count {
            // A window's rows are whole blocks: the first block's rows set the window's length.
            var blocks = Set<Int>()
            var end = start
            while end < order.count, blocks.count < 4 || blocks.contains(order[end] / 10) {
                blocks.insert(order[end] / 10)
                end += 1
            }
            let rows = order[start..<end]
            XCTAssertEqual(Set(rows), Set(blocks.flatMap { ($0 * 10)..<min($0 * 10 + 10, 395) }))
            XCTAssertNotEqual(Array(rows), rows.sorted(), "rows within a window are shuffled")
            windows += 1
            start = end
        }
        XCTAssertEqual(windows, 10)  // 40 blocks, 4 per window
        // The blocks are shuffled too, and every epoch differently.
        XCTAssertNotEqual(order.map { $0 / 10 }, order.map { $0 / 10 }.sorted())
        XCTAssertNotEqual(order, streams.blockEpochOrder(epoch: 3, rowCount: 395, shuffle: shuffle))
        XCTAssertEqual(order, streams.blockEpochOrder(epoch: 2, rowCount: 395, shuffle: shuffle))
    }

    func testWindowsHoldAtLeastFourMebibytesOfStoredRows() {
        // Fashion-MNIST as prepared: 83-row chunks of 784 bytes.
        XCTAssertEqual(BlockShuffle.forStorage(blockRows: 83, rowBytes: 784), BlockShuffle(blockRows: 83, windowBlocks: 65))
        XCTAssertEqual(BlockShuffle.forStorage(blockRows: 1, rowBytes: 8 << 20), BlockShuffle(blockRows: 1, windowBlocks: 1))
    }

    func testBlockOrderMatchesReference() throws {
        let fixture = try Fixture("block_shuffle")
        let entries = fixture.manifest["orders"] as! [[String: Any]]
        XCTAssertEqual(entries.count, 5)
        for entry in entries {
            let streams = RandomStreams(seed: UInt64(entry["seed"] as! Int))
            let shuffle = BlockShuffle(blockRows: entry["block_rows"] as! Int, windowBlocks: entry["window_blocks"] as! Int)
            XCTAssertEqual(streams.blockEpochOrder(epoch: entry["epoch"] as! Int, rowCount: entry["rows"] as! Int, shuffle: shuffle),
                           entry["order"] as! [Int])
        }
    }
}
