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

    /// `Adam.quietRangesHint` (the dormant units' weights) changes time, never bits: hinted
    /// blocks where the gradient is 0 and the first moments +0 take the quiet kernel, and
    /// blocks where any of its conditions fails (a gradient, a -0 or tiny first moment, an
    /// infinite parameter, a NaN second moment, weight decay) take the plain one. Two
    /// hinted shards, whose ranges cut a hint, give one plain optimizer's p, m, v and
    /// finiteness verdicts, step after step.
    func testAdamQuietRangesHintGivesThePlainPassBits() {
        let count = 1000
        for decay: Float in [0, 1e-4] {
            var initial = (0..<count).map { Float(sin(Double($0) * 0.7)) }
            initial[200] = .infinity
            var gradient = (0..<count).map { Float(cos(Double($0) * 1.3)) }
            for i in 100..<700 { gradient[i] = 0 }
            gradient[300] = -0.0  // a signed zero is still quiet
            gradient[450] = 1e-3  // a live weight in a hinted row: its block is loud
            let plain = Adam(parameterCount: count, learningRate: 0.01, weightDecay: decay)
            var state: [FloatBuffer] = []
            let firstShard = Adam(parameterCount: count, learningRate: 0.01, weightDecay: decay,
                                  allocate: { let buffer = FloatBuffer(count: $0); state.append(buffer); return buffer })
            var next = 0
            let secondShard = Adam(parameterCount: count, learningRate: 0.01, weightDecay: decay,
                                   allocate: { _ in defer { next += 1 }; return state[next] })
            for shard in [firstShard, secondShard] {
                shard.quietRangesHint = [100..<400, 400..<700, 900..<960]  // 900..<960: gradients not zero
            }
            for adam in [plain, firstShard] {
                for i in 0..<count { adam.secondMoment[i] = Float(i % 7) * 1e-6 }
                adam.firstMoment[520] = -0.0
                adam.firstMoment[580] = 1e-30
                adam.secondMoment[640] = .nan
                adam.secondMoment[160] = -0.0  // the plain pass makes it +0 (-0 + +0)
            }
            let (plainParameters, shardedParameters) = (FloatBuffer(initial), FloatBuffer(initial))
            for step in 0..<4 {
                let gradients = FloatBuffer(gradient)
                let plainFinite = plain.step(parameters: plainParameters, gradients: gradients, gradientScale: 0.5)
                let firstFinite = firstShard.step(parameters: shardedParameters, gradients: gradients,
                                                  gradientScale: 0.5, range: 0..<250)
                let secondFinite = secondShard.step(parameters: shardedParameters, gradients: gradients,
                                                    gradientScale: 0.5, range: 250..<count)
                XCTAssertEqual(firstFinite && secondFinite, plainFinite, "decay \(decay), step \(step)")
            }
            XCTAssertEqual(shardedParameters.array.map(\.bitPattern), plainParameters.array.map(\.bitPattern), "decay \(decay)")
            XCTAssertEqual(firstShard.firstMoment.array.map(\.bitPattern), plain.firstMoment.array.map(\.bitPattern))
            XCTAssertEqual(firstShard.secondMoment.array.map(\.bitPattern), plain.secondMoment.array.map(\.bitPattern))
            XCTAssertNotEqual(plain.secondMoment[150], Float(150 % 7) * 1e-6, "the quiet rows' second moments decay")
        }
    }

    /// `leftQuietRangesUnwritten`: true when every hinted block took the quiet pass (none of
    /// those parameters written), false when one did not; the other optimizers never claim it.
    func testAdamReportsWhetherItWroteAHintedRange() {
        let count = 256
        let adam = Adam(parameterCount: count, learningRate: 0.01)
        adam.quietRangesHint = [64..<192]
        let parameters = FloatBuffer((0..<count).map { Float($0) / 100 })
        var gradient = (0..<count).map { Float(cos(Double($0))) }
        for i in 64..<192 { gradient[i] = 0 }
        adam.step(parameters: parameters, gradients: FloatBuffer(gradient))
        XCTAssertTrue(adam.leftQuietRangesUnwritten)
        adam.step(parameters: parameters, gradients: FloatBuffer(gradient), gradientScale: 1, range: 0..<64)
        XCTAssertTrue(adam.leftQuietRangesUnwritten, "no hinted range in its range")
        gradient[191] = 1e-3
        adam.step(parameters: parameters, gradients: FloatBuffer(gradient))
        XCTAssertFalse(adam.leftQuietRangesUnwritten, "the block of 191 took the plain pass")
        gradient[191] = 0  // its first moment is no longer +0: still the plain pass
        adam.step(parameters: parameters, gradients: FloatBuffer(gradient))
        XCTAssertFalse(adam.leftQuietRangesUnwritten)
        for kind in [OptimizerKind.sgd, .adagrad] {
            let other = kind.make(parameterCount: count, learningRate: 0.01, weightDecay: 0, momentum: 0.9)
            // Without a quiet pass they make no claim (the trainer then compares every row).
            XCTAssertNil(other as? any QuietRangeOptimizer, "\(kind)")
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
