import XCTest
@testable import VAECore

/// `--precision bf16` against the NumPy reference's mirror of docs/algorithm.md
/// ("Mixed precision"): loss, every gradient and three Adam steps of the `_bf16` fixture
/// cases, with the oneDNN bf16 engine installed.
///
/// Tolerance. bf16 moves each product by up to 2^-9 relative, float32 by 2^-24: the
/// rounding shows as a difference D between the reference's bf16 and fp32 results. The
/// engine must be within 2% of D from the bf16 reference (per tensor, in L2 norm): far
/// closer than an engine that did not round (100% of D away) or rounded otherwise (a
/// truncation is ~100% of D away too), with room for the float32 sums and for the rare
/// value within float32 noise of a bf16 rounding tie, which can go either way.
final class BFloat16ReferenceTests: XCTestCase {
    private let cases = ["bernoulli_B_L1_relu", "bernoulli_A_L3_tanh"]

    override func setUpWithError() throws {
        guard OneDNNGEMM.hasBFloat16Instructions else { throw XCTSkip("no AVX512_BF16 here") }
        GEMMRuntime.use(try OneDNNGEMM(precision: .bf16), reason: "BFloat16ReferenceTests")
        addTeardownBlock { GEMMRuntime.use(OpenBLASGEMM(), reason: "default") }
    }

    /// ||actual - bf16|| over ||bf16 - fp32||, the two references of one tensor.
    private func relativeToRounding(_ actual: [Float], bf16: [Float], fp32: [Float]) -> Double {
        func distance(_ a: [Float], _ b: [Float]) -> Double {
            zip(a, b).reduce(0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }.squareRoot()
        }
        return distance(actual, bf16) / max(distance(bf16, fp32), 1e-30)
    }

    func testLossAndGradientsMatchTheRoundedReference() throws {
        for name in cases {
            let (fixture, fp32) = (try Fixture(name + "_bf16"), try Fixture(name))
            let (objective, parameters, batch, rows) = try ReferenceFixtureTests.setUp(fixture)
            let gradients = FloatBuffer(count: parameters.count)
            let terms = rows.withUnsafeBufferPointer {
                objective.evaluate(batch: batch.pointer, rowIndices: $0, count: rows.count,
                                   streams: RandomStreams(seed: UInt64(fixture.int("seed"))), epoch: fixture.int("epoch"),
                                   beta: fixture.float("beta"), parameters: parameters.pointer, gradients: gradients.pointer)
            }
            let loss = Float(terms.loss / Double(rows.count))
            XCTAssertLessThan(relativeToRounding([loss], bf16: try fixture.tensor("loss"), fp32: try fp32.tensor("loss")),
                              0.02, "\(name) loss")
            for spec in objective.layout.tensors {
                let actual = gradients.array[spec.offset..<spec.offset + spec.count].map { $0 / Float(rows.count) }
                let ratio = relativeToRounding(actual, bf16: try fixture.tensor("grad/\(spec.name)"),
                                               fp32: try fp32.tensor("grad/\(spec.name)"))
                XCTAssertLessThan(ratio, 0.02, "\(name) grad/\(spec.name)")
            }
        }
    }

    func testThreeAdamStepsMatchTheRoundedReference() throws {
        for name in cases {
            let (fixture, fp32) = (try Fixture(name + "_bf16"), try Fixture(name))
            let (objective, parameters, batch, rows) = try ReferenceFixtureTests.setUp(fixture)
            let optimizer = OptimizerKind.adam.make(parameterCount: parameters.count, learningRate: fixture.float("lr_adam"),
                                                    weightDecay: fixture.float("weight_decay"),
                                                    momentum: fixture.float("momentum"))
            let gradients = FloatBuffer(count: parameters.count)
            for step in 0..<3 {
                rows.withUnsafeBufferPointer {
                    _ = objective.evaluate(batch: batch.pointer, rowIndices: $0, count: rows.count,
                                           streams: RandomStreams(seed: UInt64(fixture.int("seed"))),
                                           epoch: fixture.int("epoch") + step, beta: fixture.float("beta"),
                                           parameters: parameters.pointer, gradients: gradients.pointer)
                }
                optimizer.step(parameters: parameters, gradients: gradients, gradientScale: 1 / Float(rows.count))
            }
            for spec in objective.layout.tensors {
                let actual = Array(parameters.array[spec.offset..<spec.offset + spec.count])
                let ratio = relativeToRounding(actual, bf16: try fixture.tensor("adam/\(spec.name)"),
                                               fp32: try fp32.tensor("adam/\(spec.name)"))
                // Adam divides by sqrt(v): a step is ~lr whatever the gradient's size, so a
                // gradient element near 0 can turn its sign with the rounding. 5% of D.
                XCTAssertLessThan(ratio, 0.05, "\(name) adam/\(spec.name)")
            }
        }
    }
}
