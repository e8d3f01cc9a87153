import CVAEKernels
import Foundation
import XCTest

/// The kernels' vectorised exp and log1p (CVAEKernels) against libm in Double, over the ranges used.
final class VectorMathTests: XCTestCase {
    private typealias Kernel = (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void

    /// Largest error in units of float32 epsilon relative to the exact value.
    private func worstRelativeError(_ inputs: [Float], _ kernel: Kernel, _ exact: (Double) -> Double) -> Double {
        var outputs = [Float](repeating: 0, count: inputs.count)
        kernel(inputs, &outputs, inputs.count)
        var worst = 0.0
        for (x, y) in zip(inputs, outputs) {
            let reference = exact(Double(x))
            worst = max(worst, abs(Double(y) - reference) / max(abs(reference), 1e-300))
        }
        return worst / Double(Float.ulpOfOne)
    }

    private func apply(_ kernel: Kernel, _ x: Float) -> Float {
        var y: Float = 0
        kernel([x], &y, 1)
        return y
    }

    func testExpIsAccurateToAFewUlp() {
        let inputs = (0..<200_000).map { Float(-87 + 175 * Double($0) / 200_000) }
        let ulps = worstRelativeError(inputs, { vae_exp($0, $1, $2) }, Foundation.exp)
        XCTAssertLessThan(ulps, 4, "exp: worst error \(ulps) ulp")  // libm's expf is within 1 ulp; 4 leaves room for the polynomial
    }

    func testExpSaturatesInsteadOfOverflowing() {
        let large = apply({ vae_exp($0, $1, $2) }, 1000)
        XCTAssertTrue(large.isFinite && large > 1e38)
        XCTAssertEqual(apply({ vae_exp($0, $1, $2) }, -1000), 0, accuracy: 1e-37)
    }

    func testLog1pOnTheUnitIntervalIsAccurateToAFewUlp() {
        var inputs = (0...100_000).map { Float(Double($0) / 100_000) }
        inputs += (0..<1000).map { Float(pow(10, -Double($0) / 40)) }  // down to 1e-25: log1p(x) = x there
        let ulps = worstRelativeError(inputs, { vae_log1p_unit($0, $1, $2) }, Foundation.log1p)
        XCTAssertLessThan(ulps, 4, "log1p: worst error \(ulps) ulp")
    }

    func testReLUKeepsNaNSoDivergenceIsSeen() {
        var values: [Float] = [-1, 0, 2, .nan]
        vae_relu_forward(&values, 4)
        XCTAssertEqual(Array(values.prefix(3)), [0, 0, 2])
        XCTAssertTrue(values[3].isNaN)
    }
}

/// The uint8 feature conversion (CVAEKernels) against the data scaling of docs/algorithm.md.
final class ByteScalingTests: XCTestCase {
    func testByteScalingIsTheFormulaBitForBit() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 37) }
        for scale in [1.0 / 255, 1, 0.5, 3.7e-3, 1.0 / 256] {
            var values = [Float](repeating: .nan, count: bytes.count)
            vae_scale_bytes(bytes, &values, bytes.count, scale)
            for (byte, value) in zip(bytes, values) {
                XCTAssertEqual(value.bitPattern, Float(Double(byte) * scale).bitPattern, "byte \(byte), scale \(scale)")
            }
        }
    }
}
