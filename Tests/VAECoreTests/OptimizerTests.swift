import XCTest
@testable import VAECore

final class OptimizerTests: XCTestCase {
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
