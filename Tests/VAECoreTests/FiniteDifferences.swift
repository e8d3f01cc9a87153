import XCTest

/// Central finite differences of a Float32 function, for checking backward passes.
///
/// Float32 rounding limits what a difference quotient can show: with step h and
/// a loss of size |f|, rounding noise is about 6e-8 |f| / h, and truncation error
/// O(h^2). Steps of 1e-2..1e-3 on O(1..100) losses leave both near 1e-4..1e-3
/// relative, so the checks below use a relative tolerance of 1e-2 with an
/// absolute floor: a wrong backward is off by O(1), not by 1e-2.
enum FiniteDifferences {
    /// Compares `analytic[i]` with (f(x + h e_i) - f(x - h e_i)) / 2h for every i in `indices`.
    static func check(
        _ name: String, values: UnsafeMutablePointer<Float>, indices: [Int], analytic: [Float],
        step: Float = 1e-2, relativeTolerance: Float = 1e-2, absoluteTolerance: Float = 2e-3,
        file: StaticString = #filePath, line: UInt = #line,
        loss: () -> Double
    ) {
        for (k, i) in indices.enumerated() {
            let original = values[i]
            values[i] = original + step
            let plus = loss()
            values[i] = original - step
            let minus = loss()
            values[i] = original
            let numeric = Float((plus - minus) / Double(2 * step))
            let error = abs(numeric - analytic[k])
            let allowed = absoluteTolerance + relativeTolerance * max(abs(numeric), abs(analytic[k]))
            XCTAssertLessThanOrEqual(
                error, allowed,
                "\(name)[\(i)]: finite difference \(numeric), backward \(analytic[k])",
                file: file, line: line)
        }
        XCTAssertGreaterThan(indices.count, 0, "\(name): nothing checked", file: file, line: line)
    }
}

/// Deterministic test values (a fixed LCG: tests must not depend on a global generator).
struct TestValues {
    private var state: UInt64

    init(seed: UInt64) { state = seed &* 6364136223846793005 &+ 1442695040888963407 }

    mutating func uniform() -> Float {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(state >> 40) / Float(1 << 24)
    }

    /// Uniform in [low, high).
    mutating func uniform(_ low: Float, _ high: Float) -> Float { low + (high - low) * uniform() }

    mutating func array(_ count: Int, _ low: Float = -1, _ high: Float = 1) -> [Float] {
        (0..<count).map { _ in uniform(low, high) }
    }
}
