import XCTest
@testable import VAECore

final class OptimizerTests: XCTestCase {
    /// The sharded update of the shared-memory exchange: each rank's optimizer updates its
    /// range, all of them over the same state buffers. Three steps of two half-range
    /// optimizers equal three steps of one optimizer bitwise, for every kind.
    func testRangeStepsOfTwoShardsEqualTheWholeStep() {
        let count = 37
        let initial = (0..<count).map { Float(sin(Double($0))) }
        let gradients = (0..<3).map { step in FloatBuffer((0..<count).map { Float(cos(Double($0 * (step + 2)))) }) }
        for kind in OptimizerKind.allCases {
            let whole = FloatBuffer(initial)
            let single = kind.make(parameterCount: count, learningRate: 0.01, weightDecay: 0.001, momentum: 0.9)
            let sharded = FloatBuffer(initial)
            var stateBuffers: [FloatBuffer] = []
            let firstShard = kind.make(parameterCount: count, learningRate: 0.01, weightDecay: 0.001, momentum: 0.9,
                                       allocate: { let buffer = FloatBuffer(count: $0); stateBuffers.append(buffer); return buffer })
            var next = 0
            let secondShard = kind.make(parameterCount: count, learningRate: 0.01, weightDecay: 0.001, momentum: 0.9,
                                        allocate: { _ in defer { next += 1 }; return stateBuffers[next] })
            XCTAssertEqual(stateBuffers.count, kind.stateBufferCount)
            for gradient in gradients {
                single.step(parameters: whole, gradients: gradient, gradientScale: 0.5)
                firstShard.step(parameters: sharded, gradients: gradient, gradientScale: 0.5, range: 0..<16)
                secondShard.step(parameters: sharded, gradients: gradient, gradientScale: 0.5, range: 16..<count)
            }
            XCTAssertEqual(sharded.array.map(\.bitPattern), whole.array.map(\.bitPattern), "\(kind)")
            for ((_, shared), (name, own)) in zip(firstShard.state, single.state) {
                XCTAssertEqual(shared.array.map(\.bitPattern), own.array.map(\.bitPattern), "\(kind) \(name)")
            }
            XCTAssertNotEqual(sharded.array, initial, "\(kind) moved nothing")
        }
    }

    /// The trainer's default finiteness check is the optimizer's own pass: every kind reports
    /// an Inf or NaN anywhere in its range (vector body or remainder), and no finite value,
    /// even one whose square overflows a float.
    func testEveryOptimizerReportsANonFiniteGradientInItsRange() {
        for kind in OptimizerKind.allCases {
            for count in [1, 15, 16, 17, 100] {
                let optimizer = kind.make(parameterCount: count, learningRate: 0.01, weightDecay: 0, momentum: 0.9)
                let parameters = FloatBuffer(count: count)
                var values = [Float](repeating: 3e38, count: count)
                XCTAssertTrue(optimizer.step(parameters: parameters, gradients: FloatBuffer(values)), "\(kind) \(count)")
                for position in Set([0, count / 2, count - 1]) {
                    for bad in [Float.nan, .infinity, -.infinity] {
                        values[position] = bad
                        XCTAssertFalse(optimizer.step(parameters: parameters, gradients: FloatBuffer(values)),
                                       "\(kind): \(bad) at \(position) of \(count)")
                        // Outside the range it is not this rank's to report.
                        if position > 0 {
                            XCTAssertTrue(optimizer.step(parameters: parameters, gradients: FloatBuffer(values),
                                                         gradientScale: 1, range: 0..<position), "\(kind) \(count)")
                        }
                        values[position] = -3e38
                    }
                }
            }
        }
    }

    func testAdamFirstStepMovesEachParameterByTheLearningRate() {
        // With bias correction, step 1 is lr * g / (|g| + eps): a move of lr against the sign.
        let adam = Adam(parameterCount: 3, learningRate: 0.01)
        let parameters = FloatBuffer([1, 1, 1])
        let gradients = FloatBuffer([0.5, -2, 1e-3])
        adam.step(parameters: parameters, gradients: gradients)
        XCTAssertEqual(parameters[0], 0.99, accuracy: 1e-6)
        XCTAssertEqual(parameters[1], 1.01, accuracy: 1e-6)
        XCTAssertEqual(parameters[2], 0.99, accuracy: 1e-5)
        XCTAssertEqual(adam.stepCount, 1)
    }

    func testAdagradDividesByAccumulatedGradientNorm() {
        let adagrad = Adagrad(parameterCount: 1, learningRate: 0.1)
        let parameters = FloatBuffer([0])
        adagrad.step(parameters: parameters, gradients: FloatBuffer([3]))
        XCTAssertEqual(parameters[0], -0.1, accuracy: 1e-7)              // 0.1 * 3 / 3
        adagrad.step(parameters: parameters, gradients: FloatBuffer([4]))
        XCTAssertEqual(parameters[0], -0.1 - 0.1 * 4 / 5, accuracy: 1e-7)  // sqrt(9 + 16) = 5
    }

    func testSGDMomentumStartsFromTheFirstGradient() {
        let sgd = SGD(parameterCount: 1, learningRate: 0.1, momentum: 0.5)
        let parameters = FloatBuffer([0])
        sgd.step(parameters: parameters, gradients: FloatBuffer([1]))
        XCTAssertEqual(parameters[0], -0.1, accuracy: 1e-7)
        sgd.step(parameters: parameters, gradients: FloatBuffer([1]))
        XCTAssertEqual(parameters[0], -0.1 - 0.1 * 1.5, accuracy: 1e-7)
    }

    func testWeightDecayIsAddedToTheGradient() {
        let sgd = SGD(parameterCount: 1, learningRate: 1, momentum: 0, weightDecay: 0.1)
        let parameters = FloatBuffer([2])
        sgd.step(parameters: parameters, gradients: FloatBuffer([0]))
        XCTAssertEqual(parameters[0], 1.8, accuracy: 1e-7)
    }

    func testClippingScalesOnlyLargeGradients() {
        let large = FloatBuffer([3, 4])
        XCTAssertEqual(GradientClipping.norm(UnsafeBufferPointer(large.buffer)), 5, accuracy: 1e-12)
        XCTAssertEqual(GradientClipping.factor(norm: 5, maxNorm: 1), Float(1 / (5 + 1e-6)))
        XCTAssertEqual(GradientClipping.factor(norm: 0.5, maxNorm: 1), 1)
    }

    func testGradientScaleIsAppliedAsTheGradientIsRead() {
        // SGD without momentum: p -= lr * (g * scale): the scale must act exactly like a scaled gradient.
        let scaled = SGD(parameterCount: 2, learningRate: 1, momentum: 0)
        let parameters = FloatBuffer([0, 0])
        scaled.step(parameters: parameters, gradients: FloatBuffer([2, -6]), gradientScale: 0.5)
        XCTAssertEqual(parameters.array, [-1, 3])
    }
}
