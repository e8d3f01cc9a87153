import Foundation
import XCTest
import VAETestSupport
import VAECore
@testable import VAEIO

final class MinibatchSourceTests: XCTestCase {
    func testUint8RowsAreScaledExactlyAsTheSpecSays() throws {
        let directory = try makeScratchDirectory(self)
        let path = directory + "/u8.h5"
        let rows = 50, features = 7
        let bytes = (0..<(rows * features)).map { UInt8(($0 * 37) % 256) }
        try writeDataFile(path, uint8: bytes, rows: rows, features: features, scale: 1.0 / 255.0)
        let data = try DataFile.open(path)
        let plan = [[49, 0, 17], [3]]
        let batches = try readEpoch(try InMemoryMinibatchSource(dataFile: data, bernoulli: true), plan: plan)
        for (step, rowsInStep) in plan.enumerated() {
            let expected = rowsInStep.flatMap { row in
                (0..<features).map { Float(Double(bytes[row * features + $0]) * (1.0 / 255.0)) }
            }
            XCTAssertEqual(batches[step].map(\.bitPattern), expected.map(\.bitPattern), "bitwise: the formula, not an approximation")
        }
    }

    func testInMemoryAndStreamingGiveIdenticalBatches() throws {
        let directory = try makeScratchDirectory(self)
        let rows = 1000, features = 13
        let floatPath = directory + "/f32.h5"
        let floats = (0..<(rows * features)).map { Float(($0 * 7) % 1001) / 1000 }
        try writeDataFile(floatPath, float32: floats, rows: rows, features: features, chunkRows: 32, gzip: 4)
        let bytePath = directory + "/u8.h5"
        try writeDataFile(bytePath, uint8: (0..<(rows * features)).map { UInt8($0 % 251) }, rows: rows, features: features,
                          chunkRows: 50, gzip: 1)
        for path in [floatPath, bytePath] {
            let data = try DataFile.open(path)
            // Steps with consecutive runs, a duplicated row and a final short step.
            var plan = scrambledPlan(rows: rows, batch: 64)
            plan.append([5, 6, 7, 8, 5, 999, 0])
            let memory = try readEpoch(try InMemoryMinibatchSource(dataFile: data, bernoulli: true), plan: plan)
            let streamingSource = try StreamingMinibatchSource(dataFile: data, memoryBudget: 256 << 10, bernoulli: true)
            let streaming = try readEpoch(streamingSource, plan: plan)
            XCTAssertEqual(memory.count, streaming.count)
            for (a, b) in zip(memory, streaming) { XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern)) }
            // A second epoch with another plan, on the same source.
            let second = scrambledPlan(rows: rows, batch: 100, multiplier: 3)
            XCTAssertEqual(try readEpoch(streamingSource, plan: second),
                           try readEpoch(try InMemoryMinibatchSource(dataFile: data, bernoulli: false), plan: second))
        }
    }

    func testStreamingStaysWithinItsBudgetOnAFileManyTimesLarger() throws {
        let directory = try makeScratchDirectory(self)
        let path = directory + "/large.h5"
        let rows = 20_000, features = 100  // 8 MB of float32
        let values = (0..<(rows * features)).map { Float($0 % 1000) / 1000 }
        try writeDataFile(path, float32: values, rows: rows, features: features, chunkRows: 64, gzip: 1)
        let data = try DataFile.open(path)
        let budget = 1 << 20  // 1 MiB: 1/8 of the file
        XCTAssertGreaterThan(data.featureBytes, 7 * budget)
        // Whole blocks read ahead for a block plan; each step's rows gathered for a row plan
        // (128 blocks a step do not fit 1 MiB of 25 KiB blocks).
        for (plan, gathers) in [(blockPlan(rows: rows, batch: 128, blockRows: 64), false),
                                (Array(scrambledPlan(rows: rows, batch: 128).prefix(12)), true)] {
            let source = try StreamingMinibatchSource(dataFile: data, memoryBudget: budget, bernoulli: true)
            try source.beginEpoch(plan: plan)
            XCTAssertEqual(source.isGathering, gathers)
            Thread.sleep(forTimeInterval: 0.5)  // let the loaders fill the read-ahead up to the budget
            var buffer = [Float](repeating: 0, count: 128 * features)
            var total = 0
            for step in plan {
                let count = try buffer.withUnsafeMutableBufferPointer { try source.nextBatch(into: $0.baseAddress!) }
                total += count
                XCTAssertEqual(buffer[0], values[step[0] * features])
                XCTAssertEqual(buffer[(count - 1) * features + 7], values[step[count - 1] * features + 7])
            }
            XCTAssertEqual(total, plan.joined().count)
            print("streaming: file \(data.featureBytes) bytes, budget \(budget), high-water \(source.highWaterBytes)")
            XCTAssertLessThanOrEqual(source.highWaterBytes, budget)
            // The slabs really filled: the loaders ran ahead until the budget stopped them.
            if !gathers { XCTAssertGreaterThan(source.highWaterBytes, budget * 3 / 4) }
        }
        // The chooser picks streaming here, in-memory when the budget is larger than the file.
        XCTAssertTrue(try makeMinibatchSource(dataFile: data, memoryBudget: budget, bernoulli: false) is StreamingMinibatchSource)
        XCTAssertTrue(try makeMinibatchSource(dataFile: data, memoryBudget: 16 << 20, bernoulli: false) is InMemoryMinibatchSource)
    }

    func testStreamingSurfacesAReadErrorAtTheFirstStepReadingItsBlock() throws {
        let directory = try makeScratchDirectory(self)
        let path = directory + "/late.h5"
        let rows = 300, features = 4
        var values = [Float](repeating: 0.25, count: rows * features)
        values[250 * features + 2] = 7  // outside [0, 1]
        try writeDataFile(path, float32: values, rows: rows, features: features, chunkRows: 50)
        let data = try DataFile.open(path)
        let plan = stride(from: 0, to: rows, by: 50).map { Array($0..<($0 + 50)) }
        for budget in [64 << 10, 4 << 10] {  // whole blocks read ahead, and gathered
            let source = try StreamingMinibatchSource(dataFile: data, memoryBudget: budget, bernoulli: true)
            try source.beginEpoch(plan: plan)
            XCTAssertEqual(source.isGathering, budget < 16 << 10)
            var buffer = [Float](repeating: 0, count: 50 * features)
            for _ in 0..<5 {
                XCTAssertEqual(try buffer.withUnsafeMutableBufferPointer { try source.nextBatch(into: $0.baseAddress!) }, 50)
            }
            assertThrows(try buffer.withUnsafeMutableBufferPointer { try source.nextBatch(into: $0.baseAddress!) },
                         containing: [path, "/features", "row 250", "column 2 is 7.0", "Bernoulli"])
        }
    }

    func testStreamingRefusesABudgetSmallerThanOneStep() throws {
        let directory = try makeScratchDirectory(self)
        let path = directory + "/small.h5"
        try writeDataFile(path, float32: [Float](repeating: 0, count: 1000 * 100), rows: 1000, features: 100)
        let data = try DataFile.open(path)
        let source = try StreamingMinibatchSource(dataFile: data, memoryBudget: 10_000, bernoulli: false)
        assertThrows(try source.beginEpoch(plan: [Array(0..<100)]), containing: [path, "memory budget", "too small", "100 rows"])
    }

    func testAPlanRowOutsideTheFileIsRejected() throws {
        let directory = try makeScratchDirectory(self)
        let path = directory + "/plan.h5"
        try writeDataFile(path, float32: [Float](repeating: 0, count: 10), rows: 5, features: 2)
        let source = try InMemoryMinibatchSource(dataFile: try DataFile.open(path), bernoulli: false)
        assertThrows(try source.beginEpoch(plan: [[0, 5]]), containing: [path, "step 0 asks for row 5", "0..<5"])
    }

    func testByteCountsParse() {
        XCTAssertEqual(parseByteCount("64M"), 64 << 20)
        XCTAssertEqual(parseByteCount("2GiB"), 2 << 30)
        XCTAssertEqual(parseByteCount("1000"), 1000)
        XCTAssertNil(parseByteCount("lots"))
    }
}
