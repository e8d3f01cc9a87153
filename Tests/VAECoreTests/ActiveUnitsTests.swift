import XCTest
@testable import VAECore

/// A ReLU encoder restricted to each batch's active units (ActiveUnits) against
/// the dense encoder: same loss, same gradients, same encodings.
final class ActiveUnitsTests: XCTestCase {
    private let dataDimension = 12
    private let latentDimension = 3

    /// What to do to the hidden biases before the step: sets some units' pre-activations.
    enum Biases {
        case deadUnits      // every third unit of each hidden layer far below 0: dead on every row
        case allActive      // every unit well above 0: active on every row
        case allDead        // every unit of the first hidden layer dead
    }

    func testRestrictedEncoderMatchesDenseWithDeadUnits() {
        compare(hidden: [96], rows: 8, biases: .deadUnits)
    }

    func testRestrictedDeeperEncoderMatchesDenseWithDeadUnits() {
        compare(hidden: [96, 64], rows: 8, biases: .deadUnits)
    }

    func testRestrictedEncoderMatchesDenseOnOneRow() {
        compare(hidden: [96, 64], rows: 1, biases: .deadUnits)
    }

    func testRestrictedEncoderMatchesDenseUnderEstimatorAWithTwoDraws() {
        compare(hidden: [96], rows: 5, biases: .deadUnits, estimator: .A, samples: 2)
    }

    func testRestrictedEncoderMatchesDenseWhenEveryUnitIsActive() {
        compare(hidden: [64, 32], rows: 8, biases: .allActive)
    }

    func testNoActiveUnitGivesZeroEncoderWeightGradientsAndABiasOnlyHead() {
        let (restricted, parameters, _) = compare(hidden: [16], rows: 4, biases: .allDead)
        let layout = restricted.layout
        for name in ["encoder.fc1.weight", "encoder.fc1.bias", "encoder.mu.weight", "encoder.logvar.weight"] {
            let tensor = layout.tensor(named: name)!
            let values = (0..<tensor.count).map { gradients[tensor.offset + $0] }
            XCTAssertTrue(values.allSatisfy { $0 == 0 }, "\(name) gradient is not all zero")
        }
        // The head sums over no unit: its output is its bias, exactly.
        let (mu, logVariance) = (FloatBuffer(count: 4 * latentDimension), FloatBuffer(count: 4 * latentDimension))
        restricted.encode(batch: batch.pointer, count: 4, parameters: parameters.pointer,
                          mu: mu.pointer, logVariance: logVariance.pointer)
        let muBias = layout.tensor(named: "encoder.mu.bias")!.offset
        let logVarianceBias = layout.tensor(named: "encoder.logvar.bias")!.offset
        for row in 0..<4 {
            for j in 0..<latentDimension {
                XCTAssertEqual(mu[row * latentDimension + j], parameters[muBias + j])
                XCTAssertEqual(logVariance[row * latentDimension + j], parameters[logVarianceBias + j])
            }
        }
    }

    // MARK: The comparison

    private var gradients = FloatBuffer(count: 0)
    private var batch = FloatBuffer(count: 0)

    /// Runs one step on the restricted and the dense objective from the same parameters
    /// and compares loss, every gradient tensor and the encodings. Returns the restricted
    /// objective and its parameters; its gradient stays in `gradients`.
    @discardableResult
    private func compare(hidden: [Int], rows: Int, biases: Biases, estimator: Estimator = .B, samples: Int = 1,
                         file: StaticString = #filePath, line: UInt = #line)
        -> (ELBOObjective, FloatBuffer, ELBOObjective) {
        let architecture = ModelArchitecture(dataDimension: dataDimension, hiddenSizes: hidden,
                                             latentDimension: latentDimension, activation: .relu)
        let settings = ObjectiveSettings(likelihood: BernoulliLikelihood(), estimator: estimator, samples: samples)
        let restricted = ELBOObjective(architecture: architecture, settings: settings, maxRows: rows)
        let dense = ELBOObjective(architecture: architecture, settings: settings, maxRows: rows,
                                  restrictsToActiveUnits: false)
        let layout = restricted.layout
        let parameters = FloatBuffer(count: layout.totalCount)
        ParameterInitialization.pytorch.initialize(parameters.pointer, layout: layout, seed: 21)
        for (layer, _) in hidden.enumerated() {
            let bias = layout.tensor(named: "encoder.fc\(layer + 1).bias")!
            for unit in 0..<bias.count {
                switch biases {
                case .deadUnits where unit % 3 == 1: parameters[bias.offset + unit] = -100
                case .allActive: parameters[bias.offset + unit] = 4 + 8 * Float(layer)  // deeper inputs are larger
                case .allDead where layer == 0: parameters[bias.offset + unit] = -100
                default: break
                }
            }
        }
        var values = TestValues(seed: 22)
        batch = FloatBuffer(values.array(rows * dataDimension, 0, 1))
        let rowIndices = Array(0..<rows)
        let streams = RandomStreams(seed: 23)

        func step(_ objective: ELBOObjective, _ gradients: FloatBuffer) -> Double {
            // Stale values where the restricted backward skips work must not survive it.
            gradients.pointer.update(repeating: .nan, count: gradients.count)
            return rowIndices.withUnsafeBufferPointer {
                objective.evaluate(batch: batch.pointer, rowIndices: $0, count: rows, streams: streams, epoch: 1,
                                   beta: 1, parameters: parameters.pointer, gradients: gradients.pointer).loss
            }
        }
        gradients = FloatBuffer(count: layout.totalCount)
        let denseGradients = FloatBuffer(count: layout.totalCount)
        let loss = step(restricted, gradients)
        let denseLoss = step(dense, denseGradients)
        let activeCounts = restricted.activeUnitCounts!
        switch biases {
        case .deadUnits:
            // The case under test really leaves units out (the biased third, less the padding to 16).
            for (layer, width) in hidden.enumerated() {
                XCTAssertLessThan(activeCounts[layer], width, file: file, line: line)
                XCTAssertGreaterThan(activeCounts[layer], 0, file: file, line: line)
                XCTAssertEqual(activeCounts[layer] % ActiveUnits.granule, 0, file: file, line: line)
            }
        case .allActive: XCTAssertEqual(activeCounts, hidden, file: file, line: line)
        case .allDead: XCTAssertEqual(activeCounts[0], 0, file: file, line: line)
        }
        // Sums with the zero terms left out may round differently (GEMM blocking): float32 rounding, scaled.
        XCTAssertEqual(loss, denseLoss, accuracy: 1e-6 * abs(denseLoss), "loss", file: file, line: line)
        for tensor in layout.tensors {
            let got = (0..<tensor.count).map { gradients[tensor.offset + $0] }
            let expected = (0..<tensor.count).map { denseGradients[tensor.offset + $0] }
            let scale = expected.map(abs).max() ?? 0
            let worst = zip(got, expected).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(worst, 1e-6 * scale, "\(tensor.name): worst difference \(worst) of \(scale)",
                                     file: file, line: line)
            XCTAssertTrue(got.allSatisfy(\.isFinite), "\(tensor.name) has stale values", file: file, line: line)
        }
        if biases == .deadUnits {
            // An inactive unit's dW row is exactly 0.
            let weight = layout.tensor(named: "encoder.fc1.weight")!
            let unit = 1
            let row = (0..<dataDimension).map { gradients[weight.offset + unit * dataDimension + $0] }
            XCTAssertEqual(row, [Float](repeating: 0, count: dataDimension), file: file, line: line)
        }

        let count = rows * latentDimension
        let (mu, logVariance) = (FloatBuffer(count: count), FloatBuffer(count: count))
        let (denseMu, denseLogVariance) = (FloatBuffer(count: count), FloatBuffer(count: count))
        restricted.encode(batch: batch.pointer, count: rows, parameters: parameters.pointer,
                          mu: mu.pointer, logVariance: logVariance.pointer)
        dense.encode(batch: batch.pointer, count: rows, parameters: parameters.pointer,
                     mu: denseMu.pointer, logVariance: denseLogVariance.pointer)
        for i in 0..<count {
            // Sums of O(1) terms in float32: a few ulps apart at most.
            XCTAssertEqual(mu[i], denseMu[i], accuracy: 1e-5, "mu[\(i)]", file: file, line: line)
            XCTAssertEqual(logVariance[i], denseLogVariance[i], accuracy: 1e-5, "logvar[\(i)]", file: file, line: line)
        }
        return (restricted, parameters, dense)
    }
}
