import CVAEKernels
@testable import VAECore
import XCTest

/// The GEMM engines against each other and against sums in Double, on every transposition,
/// beta 0 and 1, padded leading dimensions, and row counts that take the oneDNN engine's
/// padding (< 16 rows or columns) and row blocks (> 128 rows).
final class GEMMEngineTests: XCTestCase {
    private struct Case {
        let transposeA: Bool, transposeB: Bool
        let m: Int, n: Int, k: Int
        let beta: Float
    }

    private let cases: [Case] = [false, true].flatMap { ta in
        [false, true].flatMap { tb in
            [(130, 33, 100), (1, 40, 208), (7, 3, 20), (300, 20, 50), (16, 1, 9), (20, 70, 300), (20, 20, 20)].flatMap { shape in
                [Float(0), 1].map { Case(transposeA: ta, transposeB: tb, m: shape.0, n: shape.1, k: shape.2, beta: $0) }
            }
        }
    }

    /// Values in [-0.5, 0.5) from a fixed sequence.
    private func values(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(state >> 40) / Float(1 << 24) - 0.5
        }
    }

    /// Runs `engine` on `testCase` with leading dimensions 3 wider than needed; returns C and
    /// the Double reference sum with its magnitude (sum of |products| + |C0|), computed on the
    /// inputs as `round` maps them.
    private func run(_ engine: any GEMMEngine, _ testCase: Case, round: (Float) -> Float = { $0 })
        -> (c: [Float], reference: [Double], magnitude: [Double]) {
        let (m, n, k) = (testCase.m, testCase.n, testCase.k)
        let (aRows, aColumns) = testCase.transposeA ? (k, m) : (m, k)
        let (bRows, bColumns) = testCase.transposeB ? (n, k) : (k, n)
        let (lda, ldb, ldc) = (aColumns + 3, bColumns + 3, n + 3)
        let a = values(aRows * lda, seed: 1), b = values(bRows * ldb, seed: 2)
        var c = values(m * ldc, seed: 3)
        let initial = c
        engine.multiply(transposeA: testCase.transposeA, transposeB: testCase.transposeB, m: m, n: n, k: k, alpha: 1,
                        a: a, lda: lda, b: b, ldb: ldb, beta: testCase.beta, c: &c, ldc: ldc)
        var reference: [Double] = [], magnitude: [Double] = []
        for i in 0..<m {
            for j in 0..<n {
                var sum = Double(testCase.beta) * Double(initial[i * ldc + j])
                var size = abs(sum)
                for p in 0..<k {
                    let x = Double(round(testCase.transposeA ? a[p * lda + i] : a[i * lda + p]))
                    let y = Double(round(testCase.transposeB ? b[j * ldb + p] : b[p * ldb + j]))
                    sum += x * y
                    size += abs(x * y)
                }
                reference.append(sum)
                magnitude.append(size)
            }
        }
        let result = (0..<m).flatMap { i in (0..<n).map { c[i * ldc + $0] } }
        // Nothing outside C's columns was written.
        for i in 0..<m { for j in n..<ldc { XCTAssertEqual(c[i * ldc + j].bitPattern, initial[i * ldc + j].bitPattern) } }
        return (result, reference, magnitude)
    }

    /// Worst |computed - exact| relative to the sum of magnitudes.
    private func worstError(_ c: [Float], _ reference: [Double], _ magnitude: [Double]) -> Double {
        zip(zip(c, reference), magnitude).map { abs(Double($0.0) - $0.1) / max($1, 1e-30) }.max() ?? 0
    }

    func testFloat32EnginesMatchExactSums() throws {
        for engine in [OpenBLASGEMM(), try OneDNNGEMM(precision: .fp32)] as [any GEMMEngine] {
            for testCase in cases {
                let (c, reference, magnitude) = run(engine, testCase)
                // A float32 sum of k + 1 terms in any order: within (k + 1) 2^-24 of the magnitudes.
                XCTAssertLessThan(worstError(c, reference, magnitude), Double(testCase.k + 1) * 0x1p-24,
                                  "\(engine.name) \(testCase)")
            }
        }
    }

    func testBFloat16EngineSumsTheRoundedInputsInFloat32() throws {
        guard OneDNNGEMM.hasBFloat16Instructions else { throw XCTSkip("no AVX512_BF16 here") }
        let engine = try OneDNNGEMM(precision: .bf16)
        for testCase in cases {
            let (c, reference, magnitude) = run(engine, testCase, round: BFloat16.rounded)
            // The products of bf16 values are exact in float32; only the float32 sum rounds.
            XCTAssertLessThan(worstError(c, reference, magnitude), Double(testCase.k + 1) * 0x1p-24,
                              "\(engine.name) \(testCase)")
            // And the rounding shows: the unrounded inputs' sums differ by far more than that.
            if testCase.k >= 50 {
                let exact = run(OpenBLASGEMM(), testCase)
                XCTAssertGreaterThan(worstError(c, exact.reference, exact.magnitude), 1e-4, "\(testCase)")
            }
        }
    }

    func testBFloat16EngineIsDeterministic() throws {
        guard OneDNNGEMM.hasBFloat16Instructions else { throw XCTSkip("no AVX512_BF16 here") }
        let testCase = Case(transposeA: false, transposeB: true, m: 200, n: 60, k: 300, beta: 1)
        let first = run(try OneDNNGEMM(precision: .bf16), testCase).c
        let second = run(try OneDNNGEMM(precision: .bf16), testCase).c
        XCTAssertEqual(first.map(\.bitPattern), second.map(\.bitPattern))
    }
}

/// The bf16 rounding rule of docs/algorithm.md, case by case.
final class BFloat16RoundingTests: XCTestCase {
    private func bits(_ pattern: UInt32) -> UInt16 { BFloat16.bits(Float(bitPattern: pattern)) }

    func testRoundsToNearestWithTiesToEven() {
        XCTAssertEqual(bits(0x3F80_0000), 0x3F80)  // 1
        XCTAssertEqual(bits(0x3F80_7FFF), 0x3F80)  // just below half an ulp: down
        XCTAssertEqual(bits(0x3F80_8000), 0x3F80)  // a tie, kept bit even: down
        XCTAssertEqual(bits(0x3F81_8000), 0x3F82)  // a tie, kept bit odd: up to even
        XCTAssertEqual(bits(0x3F80_8001), 0x3F81)  // just above half: up
        XCTAssertEqual(bits(0xBF81_8000), 0xBF82)  // the sign does not matter
        XCTAssertEqual(bits(0x3FFF_FFFF), 0x4000)  // a carry into the next binade
    }

    func testEdgesOfTheRange() {
        XCTAssertEqual(bits(0x7F7F_7FFF), 0x7F7F)  // below the tie at the top: the largest bf16
        XCTAssertEqual(bits(0x7F7F_8000), 0x7F80)  // the tie rounds to even: infinity
        XCTAssertEqual(bits(0x7F80_0000), 0x7F80)  // +infinity
        XCTAssertEqual(bits(0xFF80_0000), 0xFF80)  // -infinity
        XCTAssertEqual(bits(0x0080_0000), 0x0080)  // the smallest normal stays
        XCTAssertEqual(bits(0x007F_FFFF), 0x0000)  // subnormals become zero of their sign
        XCTAssertEqual(bits(0x8000_0001), 0x8000)
        XCTAssertEqual(bits(0x0000_0000), 0x0000)
        XCTAssertEqual(bits(0x8000_0000), 0x8000)
    }

    func testNaNStaysAQuietNaN() {
        for pattern: UInt32 in [0x7FC0_0000, 0x7F80_0001, 0xFF80_0001, 0x7FFF_FFFF] {
            let rounded = bits(pattern)
            XCTAssertTrue(Float(bitPattern: UInt32(rounded) << 16).isNaN, String(pattern, radix: 16))
            XCTAssertEqual(rounded & 0x0040, 0x0040, "quiet bit")
            XCTAssertEqual(rounded & 0x8000, UInt16(pattern >> 16) & 0x8000, "sign")
        }
    }

    /// The CPU's VCVTNE2PS2BF16 (where it has AVX512_BF16) and the plain C loop give the same
    /// bits: on every exponent with fraction patterns at and around the ties, and on NaNs,
    /// infinities, zeros and subnormals of both signs; odd lengths exercise the masked tail.
    func testInstructionAndPortableRoundingAgree() {
        var patterns: [UInt32] = []
        for exponent: UInt32 in 0...255 {
            for low: UInt32 in [0, 1, 0x7FFF, 0x8000, 0x8001, 0xFFFF, 0x1_7FFF, 0x1_8000, 0x1_8001, 0x7F_FFFF, 0x40_0000] {
                patterns.append(exponent << 23 | low)
                patterns.append(0x8000_0000 | exponent << 23 | low)
            }
        }
        var state: UInt64 = 7
        for _ in 0..<20_001 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            patterns.append(UInt32(truncatingIfNeeded: state >> 32))
        }
        let values = patterns.map { Float(bitPattern: $0) }
        var instructions = [UInt16](repeating: 0, count: values.count)
        var portable = [UInt16](repeating: 1, count: values.count)
        vae_round_to_bfloat16(values, values.count, 1, values.count, &instructions, values.count)
        vae_round_to_bfloat16_portable(values, values.count, 1, values.count, &portable, values.count)
        for index in values.indices where instructions[index] != portable[index] {
            XCTFail("0x\(String(patterns[index], radix: 16)): 0x\(String(instructions[index], radix: 16)) against "
                    + "0x\(String(portable[index], radix: 16))")
            return
        }
    }

    func testStridedBlocksRoundEveryElementAndOnlyThose() {
        let source: [Float] = (0..<15).map { Float($0) * 1.00390625 + 0.001 }  // 3 rows of 5
        var destination = [UInt16](repeating: 0xFFFF, count: 3 * 4)
        vae_round_to_bfloat16(source, 5, 3, 3, &destination, 4)
        for row in 0..<3 {
            for column in 0..<4 {
                XCTAssertEqual(destination[row * 4 + column], column < 3 ? BFloat16.bits(source[row * 5 + column]) : 0xFFFF)
            }
        }
    }
}
