import XCTest
@testable import VAECore

/// `DormantUnits`: which first-layer units it leaves out, and that its forward is the
/// dense layer's ReLU forward whatever it leaves out.
final class DormantUnitsTests: XCTestCase {
    let layer = Dense(inFeatures: 12, outFeatures: 10, weightOffset: 0, biasOffset: 120)
    let rows = 24
    let batchRows = 8
    /// Units 1, 4 and 7 are off on every row: a bias of -20 against at most 12 x 0.5.
    let deadUnits = [1, 4, 7]
    var parameters = FloatBuffer(count: 130)
    var data = FloatBuffer(count: 24 * 12)

    override func setUp() {
        var state: UInt64 = 7
        func next() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(state >> 40) / Float(1 << 24)
        }
        parameters = FloatBuffer(count: 130)
        for i in 0..<120 { parameters[i] = next() - 0.5 }
        for unit in 0..<10 { parameters[120 + unit] = deadUnits.contains(unit) ? -20 : 0.5 }
        data = FloatBuffer(count: rows * 12)
        for i in 0..<data.count { data[i] = next() }
    }

    /// One epoch over every row in batches, checking each batch's output against the dense layer.
    private func runEpoch(_ tracker: DormantUnits, changeAfterFirstBatch: (() -> Void)? = nil,
                          file: StaticString = #filePath, line: UInt = #line) {
        tracker.beginEpoch(parameters: parameters.pointer)
        for start in stride(from: 0, to: rows, by: batchRows) {
            if start > 0 { changeAfterFirstBatch?() }
            assertForwardMatchesDense(tracker, rows: start..<(start + batchRows), file: file, line: line)
        }
    }

    private func endEpoch(_ tracker: DormantUnits, rowsSeen: Int? = nil) -> Int {
        tracker.verify(parameters: parameters.pointer)
        return tracker.endEpoch(reducedObservations: tracker.observations.pointer,
                                rowsSeen: rowsSeen ?? tracker.rowsObserved, trainingRows: rows)
    }

    private func assertForwardMatchesDense(_ tracker: DormantUnits, rows range: Range<Int>,
                                           file: StaticString = #filePath, line: UInt = #line) {
        let count = range.count
        let input = data.pointer + range.lowerBound * 12
        let expected = FloatBuffer(count: count * 10)
        layer.forward(input: input, rows: count, parameters: parameters.pointer, output: expected.pointer)
        Activation.relu.forward(expected.pointer, count: count * 10)
        let actual = FloatBuffer(count: count * 10)
        actual.pointer.update(repeating: .nan, count: count * 10)
        tracker.forward(input: input, rows: count, parameters: parameters.pointer, output: actual.pointer)
        for i in 0..<count * 10 {
            XCTAssertEqual(actual[i], expected[i], accuracy: 1e-6 * max(1, abs(expected[i])),
                           "row \(range.lowerBound + i / 10) unit \(i % 10)", file: file, line: line)
        }
    }

    func testUnitsOffOnEveryRowBecomeDormantAndTheForwardIsTheDenseOne() {
        let tracker = DormantUnits(layer: layer, maxRows: batchRows)
        runEpoch(tracker)
        XCTAssertEqual(tracker.dormantCount, 0, "nothing is skipped before an epoch has been observed")
        XCTAssertEqual(endEpoch(tracker), 3)
        XCTAssertEqual(tracker.dormantCount, 3)
        runEpoch(tracker)
        XCTAssertEqual(tracker.liveCount, 7)
        XCTAssertEqual(endEpoch(tracker), 0, "no new dormant unit")
        XCTAssertEqual(tracker.dormantCount, 3, "dormant units stay dormant while their weights stay")
    }

    func testADormantUnitWhoseWeightsMoveIsComputedAgain() {
        let tracker = DormantUnits(layer: layer, maxRows: batchRows)
        runEpoch(tracker)
        XCTAssertEqual(endEpoch(tracker), 3)
        parameters[120 + 4] = 5  // unit 4 now fires on every row
        assertForwardMatchesDense(tracker, rows: 0..<batchRows)
        XCTAssertEqual(tracker.dormantCount, 2)
        parameters[3 * 12 + 5] += 1e-3  // a live unit moving changes nothing
        assertForwardMatchesDense(tracker, rows: batchRows..<(2 * batchRows))
        XCTAssertEqual(tracker.dormantCount, 2)
    }

    /// Quiet units (dormant, and hinted to Adam): `verify` skips their weight rows only while
    /// every update since the last `verify` reported writing none of them. A weight moved
    /// with a report that says so is found; reports accumulate until a `verify`.
    func testAQuietUnitsWeightsAreComparedUnlessNoUpdateWroteThem() {
        let tracker = DormantUnits(layer: layer, maxRows: batchRows)
        runEpoch(tracker)
        XCTAssertEqual(endEpoch(tracker), 3)
        let ranges = tracker.quietWeightRanges { $0.lowerBound != 7 * 12 }  // unit 7's first moments: not +0
        XCTAssertEqual(ranges, [12..<24, 48..<60])

        // The optimizer wrote a quiet row, then a later update wrote none: still compared.
        tracker.noteUpdate(wroteQuietRows: true)
        parameters[4 * 12 + 3] += 10  // unit 4 fires now
        tracker.noteUpdate(wroteQuietRows: false)
        assertForwardMatchesDense(tracker, rows: 0..<batchRows)
        XCTAssertEqual(tracker.dormantCount, 2)

        // A bias is always compared, and so is a dormant unit that is not quiet.
        tracker.noteUpdate(wroteQuietRows: false)
        parameters[120 + 1] = 5
        parameters[7 * 12] += 10
        assertForwardMatchesDense(tracker, rows: batchRows..<(2 * batchRows))
        XCTAssertEqual(tracker.dormantCount, 0)
    }

    /// With no update reported since the last `verify`, a quiet unit's rows are trusted (that
    /// is the saving): a change no report owns up to goes unseen. Only the optimizer's quiet
    /// pass may make that report, and it writes none of those rows.
    func testAQuietUnitsRowsAreTrustedWhileNoUpdateWroteThem() {
        let tracker = DormantUnits(layer: layer, maxRows: batchRows)
        runEpoch(tracker)
        XCTAssertEqual(endEpoch(tracker), 3)
        _ = tracker.quietWeightRanges { _ in true }
        tracker.noteUpdate(wroteQuietRows: false)
        parameters[4 * 12 + 3] += 1e-3
        let output = FloatBuffer(count: batchRows * 10)
        tracker.forward(input: data.pointer, rows: batchRows, parameters: parameters.pointer, output: output.pointer)
        XCTAssertEqual(tracker.dormantCount, 3, "the row was not compared")
        tracker.distrustQuietRows()
        tracker.verify(parameters: parameters.pointer)
        XCTAssertEqual(tracker.dormantCount, 2, "a full comparison finds it")
    }

    func testNoUnitBecomesDormantUnlessEveryTrainingRowWasSeen() {
        let tracker = DormantUnits(layer: layer, maxRows: batchRows)
        runEpoch(tracker)
        XCTAssertEqual(endEpoch(tracker, rowsSeen: rows - 1), 0)
        XCTAssertEqual(tracker.dormantCount, 0)
    }

    func testAUnitWhoseWeightsMovedDuringTheEpochIsNotDormant() {
        let tracker = DormantUnits(layer: layer, maxRows: batchRows)
        // Unit 1 stays off on every row, but its weights moved after the first batch.
        runEpoch(tracker, changeAfterFirstBatch: { [parameters] in parameters[1 * 12] -= 1e-3 })
        XCTAssertEqual(endEpoch(tracker), 2)
        runEpoch(tracker)
        XCTAssertEqual(tracker.liveCount, 8, "units 4 and 7 are skipped, unit 1 is computed")
        XCTAssertEqual(endEpoch(tracker), 1, "unit 1, unchanged for a whole epoch now")
    }

    /// A unit whose largest pre-activation is negative but within the rounding bound
    /// might come out positive from another summation order: it stays computed.
    func testAUnitJustBelowZeroIsNotDormant() {
        let unit = 2
        for i in 0..<12 { parameters[unit * 12 + i] = 0.25 }
        let largestSum = (0..<rows).map { row in (0..<12).reduce(0.0) { $0 + 0.25 * Double(data[row * 12 + $1]) } }.max()!
        parameters[120 + unit] = Float(-largestSum - 2e-6)
        let tracker = DormantUnits(layer: layer, maxRows: batchRows)
        runEpoch(tracker)
        tracker.verify(parameters: parameters.pointer)
        XCTAssertLessThan(tracker.observations[unit], 0, "the unit is off on every row")
        XCTAssertEqual(tracker.endEpoch(reducedObservations: tracker.observations.pointer, rowsSeen: rows,
                                        trainingRows: rows), 3, "the three far-off units only")

        // Well below zero, the same unit qualifies.
        parameters[120 + unit] = Float(-largestSum - 1e-2)
        let other = DormantUnits(layer: layer, maxRows: batchRows)
        runEpoch(other)
        XCTAssertEqual(endEpoch(other), 4)
    }

    func testANaNPreActivationNeverMakesAUnitDormant() {
        parameters[7 * 12] = .nan  // unit 7's pre-activations are NaN: ReLU keeps them NaN
        let tracker = DormantUnits(layer: layer, maxRows: batchRows)
        tracker.beginEpoch(parameters: parameters.pointer)
        let output = FloatBuffer(count: rows * 10)
        for start in stride(from: 0, to: rows, by: batchRows) {
            tracker.forward(input: data.pointer + start * 12, rows: batchRows, parameters: parameters.pointer,
                            output: output.pointer + start * 10)
        }
        XCTAssertTrue(output[7].isNaN)
        XCTAssertEqual(endEpoch(tracker), 2, "units 1 and 4")
    }

    /// The check the trainer relies on: on a kernel whose sums do not depend on the width
    /// (this machine's AVX-512 kernels), the live units' pre-activations are the dense bits.
    func testCompactProductCheckAgreesWithTheTrackersOwnForward() throws {
        guard DormantUnits.compactProductMatchesDense(layer: layer, rowCounts: [batchRows]) else {
            throw XCTSkip("this BLAS kernel (\(BLASLibrary.coreName)) sums differently by width; the trainer computes every unit")
        }
        let tracker = DormantUnits(layer: layer, maxRows: batchRows)
        runEpoch(tracker)
        XCTAssertEqual(endEpoch(tracker), 3)
        let expected = FloatBuffer(count: batchRows * 10)
        layer.forward(input: data.pointer, rows: batchRows, parameters: parameters.pointer, output: expected.pointer)
        Activation.relu.forward(expected.pointer, count: batchRows * 10)
        let actual = FloatBuffer(count: batchRows * 10)
        tracker.forward(input: data.pointer, rows: batchRows, parameters: parameters.pointer, output: actual.pointer)
        XCTAssertEqual((0..<actual.count).map { actual[$0].bitPattern }, (0..<expected.count).map { expected[$0].bitPattern })
    }
}
