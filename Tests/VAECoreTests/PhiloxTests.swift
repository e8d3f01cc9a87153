import XCTest
@testable import VAECore

final class PhiloxTests: XCTestCase {
    /// The known-answer vectors published with Random123 (kat_vectors, philox4x32_10).
    func testMatchesRandom123KnownAnswers() {
        let zero = Philox4x32(key0: 0, key1: 0).block(0, 0, 0, 0)
        XCTAssertEqual([zero.0, zero.1, zero.2, zero.3], [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8])
        let ones = Philox4x32(key0: .max, key1: .max).block(.max, .max, .max, .max)
        XCTAssertEqual([ones.0, ones.1, ones.2, ones.3], [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd])
        let pi = Philox4x32(key0: 0xa409_3822, key1: 0x299f_31d0).block(0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344)
        XCTAssertEqual([pi.0, pi.1, pi.2, pi.3], [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1])
    }

    func testSeedSplitsIntoKeyHalves() {
        let philox = Philox4x32(seed: 0x1234_5678_9abc_def0)
        XCTAssertEqual(philox.key.0, 0x9abc_def0)
        XCTAssertEqual(philox.key.1, 0x1234_5678)
    }

    func testNoiseIsAPureFunctionOfItsKeys() {
        let streams = RandomStreams(seed: 42)
        var first = [Float](repeating: 0, count: 7)
        var again = [Float](repeating: 0, count: 7)
        var otherRow = [Float](repeating: 0, count: 7)
        var otherEpoch = [Float](repeating: 0, count: 7)
        streams.normals(epoch: 3, row: 11, draw: 1, count: 7, into: &first)
        streams.normals(epoch: 3, row: 11, draw: 1, count: 7, into: &again)
        streams.normals(epoch: 3, row: 12, draw: 1, count: 7, into: &otherRow)
        streams.normals(epoch: 4, row: 11, draw: 1, count: 7, into: &otherEpoch)
        XCTAssertEqual(first, again)
        XCTAssertNotEqual(first, otherRow)
        XCTAssertNotEqual(first, otherEpoch)
    }

    func testNormalsHaveStandardMoments() {
        let streams = RandomStreams(seed: 7)
        var values = [Float](repeating: 0, count: 20)
        var sum = 0.0, squares = 0.0, count = 0.0
        for row in 0..<5000 {
            streams.normals(epoch: 0, row: row, draw: 0, count: 20, into: &values)
            for v in values { sum += Double(v); squares += Double(v * v); count += 1 }
        }
        // 100k draws: standard errors of the mean and variance are ~0.003 and ~0.0045.
        XCTAssertEqual(sum / count, 0, accuracy: 0.015)
        XCTAssertEqual(squares / count, 1, accuracy: 0.025)
    }

    func testEpochOrderIsAPermutationThatChangesWithEpoch() {
        let streams = RandomStreams(seed: 3)
        let first = streams.epochOrder(epoch: 0, rowCount: 1000)
        XCTAssertEqual(first.sorted(), Array(0..<1000))
        XCTAssertEqual(first, streams.epochOrder(epoch: 0, rowCount: 1000))
        XCTAssertNotEqual(first, streams.epochOrder(epoch: 1, rowCount: 1000))
        XCTAssertNotEqual(first, Array(0..<1000))
    }
}
