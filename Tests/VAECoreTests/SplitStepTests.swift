import XCTest
@testable import VAECore

/// The split step (rows, then units) computes the objective's loss and gradient, and its
/// owners' pieces make up the whole gradient bit for bit.
final class SplitStepTests: XCTestCase {
    private let dataDimension = 12
    private let latentDimension = 3

    /// One "rank" holding every row of the batch: the loss and every gradient tensor of the
    /// split step against the objective's dense backward (itself tested against finite
    /// differences). The sums are the same math in another order: float32 rounding.
    private func compare(hidden: [Int], activation: Activation, estimator: Estimator = .B, samples: Int = 1,
                         likelihood: any Likelihood = BernoulliLikelihood(), learnedVarianceFloor: Float? = nil,
                         rows: Int = 9, file: StaticString = #filePath, line: UInt = #line) {
        let architecture = ModelArchitecture(dataDimension: dataDimension, hiddenSizes: hidden,
                                             latentDimension: latentDimension, activation: activation,
                                             learnedVarianceFloor: learnedVarianceFloor)
        let settings = ObjectiveSettings(likelihood: likelihood, estimator: estimator, samples: samples)
        let objective = ELBOObjective(architecture: architecture, settings: settings, maxRows: rows,
                                      restrictsToActiveUnits: false)
        guard let split = SplitStep(architecture: architecture, settings: settings, globalBatch: rows, maxRows: rows) else {
            return XCTFail("no split step for an MLP", file: file, line: line)
        }
        let block = FloatBuffer(count: split.rows.floatCount)
        split.bind(block.pointer)
        let layout = objective.layout
        let parameters = FloatBuffer(count: layout.totalCount)
        ParameterInitialization.pytorch.initialize(parameters.pointer, layout: layout, seed: 41)
        var values = TestValues(seed: 42)
        let batch = values.array(rows * dataDimension, 0, 1)
        split.dataRows(from: 0).update(from: batch, count: batch.count)
        let rowIndices = Array(100..<(100 + rows))
        let streams = RandomStreams(seed: 43)
        let beta: Float = 0.8

        let expected = FloatBuffer(count: layout.totalCount)
        let terms = batch.withUnsafeBufferPointer { batch in
            rowIndices.withUnsafeBufferPointer {
                objective.evaluate(batch: batch.baseAddress!, rowIndices: $0, count: rows, streams: streams, epoch: 2,
                                   beta: beta, parameters: parameters.pointer, gradients: expected.pointer)
            }
        }
        let gradients = FloatBuffer(count: layout.totalCount)
        gradients.pointer.update(repeating: .nan, count: layout.totalCount)  // every entry must be written
        rowIndices.withUnsafeBufferPointer {
            split.computeRows(count: rows, first: 0, rowIndices: $0, streams: streams, epoch: 2, beta: beta,
                              parameters: parameters.pointer, dormantUnits: nil) { units, _ in units.adopt(flags: units.localFlags) }
        }
        split.weightBackward(globalRows: rows, owned: 0..<layout.totalCount, parameters: parameters.pointer,
                             gradients: gradients.pointer)
        let splitTerms = split.lossTerms(globalRows: rows, beta: beta)
        // float32 per-row terms added in float64: the same to ~1e-6 relative.
        XCTAssertEqual(splitTerms.loss, terms.loss, accuracy: 1e-5 * abs(terms.loss), "loss", file: file, line: line)
        XCTAssertEqual(splitTerms.kl, terms.kl, accuracy: 1e-5 * max(1, abs(terms.kl)), "KL", file: file, line: line)
        for tensor in layout.tensors {
            let got = (0..<tensor.count).map { gradients[tensor.offset + $0] }
            let want = (0..<tensor.count).map { expected[tensor.offset + $0] }
            let scale = want.map(abs).max() ?? 0
            let worst = zip(got, want).map { abs($0 - $1) }.max() ?? .infinity
            // Sums of O(rows) float32 terms in another order (compact units, K in chunks): 1e-5 of the scale.
            XCTAssertLessThanOrEqual(worst, 1e-5 * max(scale, 1e-3), "\(tensor.name): \(worst) of \(scale)",
                                     file: file, line: line)
        }
    }

    func testReLUSplitStepMatchesTheObjective() {
        compare(hidden: [24], activation: .relu)
    }

    func testDeeperReLUWithTwoDrawsUnderEstimatorAMatchesTheObjective() {
        compare(hidden: [24, 16], activation: .relu, estimator: .A, samples: 2)
    }

    func testTanhWithALearnedVarianceMatchesTheObjective() {
        compare(hidden: [8], activation: .tanh, likelihood: GaussianLikelihood(variance: 1), learnedVarianceFloor: 1e-3)
    }

    func testNoHiddenLayerMatchesTheObjective() {
        compare(hidden: [], activation: .relu, samples: 3)
    }

    /// Owners of consecutive ranges, on the step's ownership boundaries, write together
    /// exactly the whole gradient: a weight row's gradient is one GEMM row, the same bits
    /// in a call for some units as for all (with `ReproducibleGEMM` in force; skipped on a
    /// kernel that fails its check).
    func testOwnedRangesMakeUpTheWholeGradientBitForBit() throws {
        let architecture = ModelArchitecture(dataDimension: 40, hiddenSizes: [64], latentDimension: 4, activation: .relu)
        let settings = ObjectiveSettings(likelihood: BernoulliLikelihood(), estimator: .B, samples: 1)
        let rows = 32
        let policy = ReproducibleGEMM.Policy()
        if let failure = ReproducibleGEMM.check(policy: policy, products: [
            .init(inFeatures: 40, outFeatures: 64, rows: rows, inputGradient: false),
            .init(inFeatures: 64, outFeatures: 8, rows: rows, inputGradient: true),
            .init(inFeatures: 32, outFeatures: 8, rows: rows, inputGradient: true),
            .init(inFeatures: 4, outFeatures: 64, rows: rows, inputGradient: true),
            .init(inFeatures: 64, outFeatures: 40, rows: rows, inputGradient: true)], threadCounts: [1]) {
            throw XCTSkip("BLAS kernel \(BLASLibrary.coreName) gives no guarantee: \(failure)")
        }
        ReproducibleGEMM.use(policy)
        defer { ReproducibleGEMM.use(nil) }
        let split = try XCTUnwrap(SplitStep(architecture: architecture, settings: settings, globalBatch: rows, maxRows: rows))
        let block = FloatBuffer(count: split.rows.floatCount)
        split.bind(block.pointer)
        let layout = split.layout
        let parameters = FloatBuffer(count: layout.totalCount)
        ParameterInitialization.pytorch.initialize(parameters.pointer, layout: layout, seed: 51)
        var values = TestValues(seed: 52)
        let batch = values.array(rows * 40, 0, 1)
        split.dataRows(from: 0).update(from: batch, count: batch.count)
        let rowIndices = Array(0..<rows)
        rowIndices.withUnsafeBufferPointer {
            split.computeRows(count: rows, first: 0, rowIndices: $0, streams: RandomStreams(seed: 53), epoch: 0, beta: 1,
                              parameters: parameters.pointer, dormantUnits: nil) { units, _ in units.adopt(flags: units.localFlags) }
        }
        let whole = FloatBuffer(count: layout.totalCount)
        split.weightBackward(globalRows: rows, owned: 0..<layout.totalCount, parameters: parameters.pointer,
                             gradients: whole.pointer)
        let boundaries = split.ownershipBoundaries
        for pieces in [2, 3, 7, 16] {
            let pieced = FloatBuffer(count: layout.totalCount)
            pieced.pointer.update(repeating: .nan, count: layout.totalCount)
            var cuts = (1..<pieces).map { boundaries[$0 * (boundaries.count - 1) / pieces] }
            cuts = [0] + cuts + [layout.totalCount]
            for (start, end) in zip(cuts, cuts.dropFirst()) where start < end {
                split.weightBackward(globalRows: rows, owned: start..<end, parameters: parameters.pointer,
                                     gradients: pieced.pointer)
            }
            XCTAssertEqual(pieced.array.map(\.bitPattern), whole.array.map(\.bitPattern), "\(pieces) owners")
        }
    }
}
