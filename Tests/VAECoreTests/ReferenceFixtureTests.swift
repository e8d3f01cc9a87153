import XCTest
@testable import VAECore

/// VAECore against the independent NumPy reference (scripts/reference/):
/// the same init, noise, loss, every gradient, and three steps of each optimizer.
///
/// Tolerances. The reference computes in float64, VAECore in float32 (unit
/// roundoff 6e-8). Losses are sums of ~10-30 terms: 1e-5 relative leaves a
/// 100x margin. A gradient element is a sum of products of ~5-20 factors:
/// 1e-4 relative, plus an absolute floor of 1e-6 times the tensor's largest
/// element for elements that are small only by cancellation (their absolute
/// error is set by the large terms that cancelled).
final class ReferenceFixtureTests: XCTestCase {
    static let modelCases = ["bernoulli_B_L1_relu", "bernoulli_A_L3_tanh", "gaussian_B_L2_softplus", "bernoulli_A_L1_sigmoid",
                             "laplace_B_L2_tanh", "logistic_A_L1_softplus", "gumbel_B_L2_tanh", "gumbel_A_L3_sigmoid",
                             "cauchy_A_L2_tanh", "gaussian_learnedvar_A_L2_softplus", "laplace_learnedvar_B_L1_tanh",
                             "conv_bernoulli_B_L1_relu", "conv_rgb_A_L2_tanh"]

    func testInitialParametersMatchReference() throws {
        for name in Self.modelCases {
            let fixture = try Fixture(name)
            let layout = fixture.architecture.parameterLayout
            let parameters = FloatBuffer(count: layout.totalCount)
            ParameterInitialization(rawValue: fixture.string("init"))!
                .initialize(parameters.pointer, layout: layout, seed: UInt64(fixture.int("seed")))
            for spec in layout.tensors {
                // Both sides compute the value in float64 and round once: bitwise equal.
                XCTAssertEqual(Array(parameters.array[spec.offset..<spec.offset + spec.count]),
                               try fixture.tensor("init/\(spec.name)"), "\(name) init/\(spec.name)")
            }
        }
    }

    func testLossAndGradientsMatchReference() throws {
        for name in Self.modelCases {
            let fixture = try Fixture(name)
            let (objective, parameters, batch, rows) = try Self.setUp(fixture)
            let gradients = FloatBuffer(count: parameters.count)
            let terms = rows.withUnsafeBufferPointer {
                objective.evaluate(batch: batch.pointer, rowIndices: $0, count: rows.count,
                                   streams: RandomStreams(seed: UInt64(fixture.int("seed"))),
                                   epoch: fixture.int("epoch"), beta: fixture.float("beta"),
                                   parameters: parameters.pointer, gradients: gradients.pointer)
            }
            let count = Double(rows.count)
            XCTAssertEqual(terms.loss / count, Double(try fixture.tensor("loss")[0]), accuracy: 1e-5 * abs(terms.loss / count), name)
            XCTAssertEqual(terms.reconstruction / count, Double(try fixture.tensor("recon")[0]),
                           accuracy: 1e-5 * abs(terms.reconstruction / count), name)
            XCTAssertEqual(terms.kl / count, Double(try fixture.tensor("kl")[0]), accuracy: 1e-5 * abs(terms.kl / count) + 1e-6, name)
            for spec in objective.layout.tensors {
                let expected = try fixture.tensor("grad/\(spec.name)")
                // VAECore returns the gradient of the SUM over rows; the reference, of the mean.
                let actual = gradients.array[spec.offset..<spec.offset + spec.count].map { $0 / Float(rows.count) }
                let scale = expected.map(abs).max() ?? 0
                assertClose(actual, expected, relative: 1e-4, absolute: 1e-6 * scale, "\(name) grad/\(spec.name)")
            }
        }
    }

    func testNoiseMatchesReference() throws {
        for name in Self.modelCases {
            let fixture = try Fixture(name)
            let rows = fixture.config["batch_rows"] as! [Int]
            let (samples, latent) = (fixture.int("samples"), fixture.int("latent"))
            var noise = [Float](repeating: 0, count: rows.count * samples * latent)
            let streams = RandomStreams(seed: UInt64(fixture.int("seed")))
            let family = fixture.posterior.family
            for (b, row) in rows.enumerated() {
                for draw in 0..<samples {
                    noise.withUnsafeMutableBufferPointer {
                        family.noise(streams: streams, purpose: .trainingNoise, epoch: fixture.int("epoch"), row: row,
                                     draw: draw, count: latent, into: $0.baseAddress! + (b * samples + draw) * latent)
                    }
                }
            }
            // Box-Muller or an inverse CDF in float64 rounded once: libm and NumPy may differ
            // in the last float64 bit, which can move the float32 result by at most one ulp (1.2e-7).
            assertClose(noise, try fixture.tensor("eps"), relative: 2.5e-7, absolute: 1e-7, "\(name) eps")
        }
    }

    func testThreeOptimizerStepsMatchReference() throws {
        for name in Self.modelCases {
            let fixture = try Fixture(name)
            for kind in OptimizerKind.allCases {
                let (objective, parameters, batch, rows) = try Self.setUp(fixture)
                let optimizer = kind.make(parameterCount: parameters.count, learningRate: fixture.float("lr_\(kind.rawValue)"),
                                          weightDecay: fixture.float("weight_decay"), momentum: fixture.float("momentum"))
                let gradients = FloatBuffer(count: parameters.count)
                var losses: [Float] = []
                for step in 0..<3 {
                    let terms = rows.withUnsafeBufferPointer {
                        objective.evaluate(batch: batch.pointer, rowIndices: $0, count: rows.count,
                                           streams: RandomStreams(seed: UInt64(fixture.int("seed"))),
                                           epoch: fixture.int("epoch") + step, beta: fixture.float("beta"),
                                           parameters: parameters.pointer, gradients: gradients.pointer)
                    }
                    losses.append(Float(terms.loss / Double(rows.count)))
                    // As the trainer does: the mean over rows and the clip factor applied by the optimizer.
                    var scale = 1 / Float(rows.count)
                    if fixture.float("clip") > 0 {
                        let norm = GradientClipping.norm(UnsafeBufferPointer(gradients.buffer)) * Double(scale)
                        scale *= GradientClipping.factor(norm: norm, maxNorm: Double(fixture.float("clip")))
                    }
                    optimizer.step(parameters: parameters, gradients: gradients, gradientScale: scale)
                }
                assertClose(losses, try fixture.tensor("\(kind.rawValue)_losses"), relative: 1e-5, "\(name) \(kind) losses")
                for spec in objective.layout.tensors {
                    let expected = try fixture.tensor("\(kind.rawValue)/\(spec.name)")
                    let scale = expected.map(abs).max() ?? 0
                    // After three steps the float32 parameters carry the gradients' 1e-4 relative
                    // error times lr: far below 1e-5 of the parameters' own scale.
                    assertClose(Array(parameters.array[spec.offset..<spec.offset + spec.count]), expected,
                                relative: 1e-5, absolute: 1e-5 * scale, "\(name) \(kind)/\(spec.name)")
                }
            }
        }
    }

    /// The case's objective, initial parameters, data and batch rows.
    static func setUp(_ fixture: Fixture) throws -> (ELBOObjective, FloatBuffer, FloatBuffer, [Int]) {
        let rows = fixture.config["batch_rows"] as! [Int]
        let objective = ELBOObjective(architecture: fixture.architecture, settings: fixture.settings, maxRows: rows.count)
        let parameters = FloatBuffer(count: objective.layout.totalCount)
        for spec in objective.layout.tensors {
            let values = try fixture.tensor("init/\(spec.name)")
            for (i, value) in values.enumerated() { parameters[spec.offset + i] = value }
        }
        return (objective, parameters, FloatBuffer(try fixture.tensor("x")), rows)
    }
}

/// The RNG streams against the reference's Philox, shuffle, normals and init uniforms.
final class ReferenceRandomStreamTests: XCTestCase {
    func testPhiloxBlocksMatchReference() throws {
        let fixture = try Fixture("rng")
        let vectors = fixture.manifest["philox"] as! [[String: [Int]]]
        XCTAssertGreaterThanOrEqual(vectors.count, 3)
        for vector in vectors {
            let key = vector["key"]!.map(UInt32.init), counter = vector["counter"]!.map(UInt32.init)
            let output = Philox4x32(key0: key[0], key1: key[1]).block(counter[0], counter[1], counter[2], counter[3])
            XCTAssertEqual([output.0, output.1, output.2, output.3].map(Int.init), vector["output"]!)
        }
    }

    func testEpochShuffleMatchesReference() throws {
        let fixture = try Fixture("rng")
        for entry in fixture.manifest["shuffle"] as! [[String: Any]] {
            let streams = RandomStreams(seed: UInt64(entry["seed"] as! Int))
            XCTAssertEqual(streams.epochOrder(epoch: entry["epoch"] as! Int, rowCount: entry["rows"] as! Int),
                           entry["order"] as! [Int])
        }
    }

    func testNormalsMatchReference() throws {
        let fixture = try Fixture("rng")
        for (key, purpose) in [("normals", RandomPurpose.trainingNoise), ("eval_normals", .evaluationNoise)] {
            let entries = fixture.manifest[key] as! [[String: Any]]
            XCTAssertFalse(entries.isEmpty)
            for entry in entries {
                let latent = entry["latent"] as! Int
                var values = [Float](repeating: 0, count: latent)
                RandomStreams(seed: UInt64(entry["seed"] as! Int)).normals(
                    purpose: purpose, epoch: entry["epoch"] as? Int ?? 0, row: entry["row"] as! Int,
                    draw: entry["draw"] as! Int, count: latent, into: &values)
                assertClose(values, (entry["values"] as! [Double]).map(Float.init), relative: 2.5e-7, absolute: 1e-7, key)
            }
        }
    }

    func testInitUniformsMatchReference() throws {
        let fixture = try Fixture("rng")
        for entry in fixture.manifest["init_uniforms"] as! [[String: Any]] {
            let u = RandomStreams(seed: UInt64(entry["seed"] as! Int))
                .initUniform(tensor: entry["tensor"] as! Int, element: entry["element"] as! Int)
            // u is exact (an integer times 2^-32); Foundation's JSON parser on Linux may
            // read the printed double a few ulps off, hence 1e-15 rather than equality.
            XCTAssertEqual(u, entry["u"] as! Double, accuracy: 1e-15)
        }
    }
}
