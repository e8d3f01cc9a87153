import Foundation

/// The step between encoder and decoder: z = loc + s * eps for every (row, draw).
///
/// s = exp(rawScale / 2); the step also computes the KL term, and the backward to
/// dL/d(loc, rawScale). The encoder's output row is [loc | rawScale], 2Z floats
/// (docs/algorithm.md); the noise eps of a row is keyed by (seed, purpose, epoch, data-file
/// row, draw), so which rank or batch position holds a row never changes it. Buffers are
/// made once for `maxRows` rows.
final class ReparameterizedSample {
    let latentDimension: Int
    let samples: Int
    let noise: FloatBuffer           // [maxRows * L, Z]
    let latent: FloatBuffer          // [maxRows * L, Z]: z, the decoder's input
    let latentGradient: FloatBuffer  // [maxRows * L, Z]: dL/dz, from the decoder's backward
    let headGradient: FloatBuffer    // [maxRows, 2Z]: dL/d(loc, rawScale), the encoder's output gradient
    private let loops: Loops

    init(settings: ObjectiveSettings, latentDimension: Int, maxRows: Int) {
        self.latentDimension = latentDimension
        samples = settings.samples
        let draws = maxRows * settings.samples
        noise = FloatBuffer(count: draws * latentDimension)
        latent = FloatBuffer(count: draws * latentDimension)
        latentGradient = FloatBuffer(count: draws * latentDimension)
        headGradient = FloatBuffer(count: maxRows * 2 * latentDimension)
        let buffers = Buffers(noise: noise, latent: latent, latentGradient: latentGradient, headGradient: headGradient)
        // The default family by its concrete type, so that its per-coordinate loops are
        // specialised and inlined; through `any PosteriorFamily` they would cost a dynamic
        // call per coordinate and function (~2% of a default step in `perf`). Other families
        // take the unspecialised path.
        loops = if let gaussian = settings.posterior as? DiagonalGaussian {
            Self.loops(gaussian, settings: settings, latentDimension: latentDimension, buffers: buffers)
        } else {
            Self.loops(settings.posterior, settings: settings, latentDimension: latentDimension, buffers: buffers)
        }
    }

    /// noise and z for `rows` rows of `head` [rows, 2Z], the rows' data-file indices in `rowIndices`.
    func draw(head: UnsafePointer<Float>, rowIndices: UnsafeBufferPointer<Int>, rows: Int, streams: RandomStreams,
              purpose: RandomPurpose, epoch: Int) {
        loops.draw(head, rowIndices, rows, streams, purpose, epoch)
    }

    /// The KL term summed over the rows: analytic (estimator B) or Monte Carlo (A).
    ///
    /// A's is (1/L) sum_l log q(z_l|x) - log p(z_l). With `logWeights` [rows, L], subtracts
    /// each draw's log q - log p from it (the importance weights of evaluation). With
    /// `perRow` [rows], writes each row's term there too (the sum adds them in row order).
    func kl(head: UnsafePointer<Float>, rows: Int, logWeights: UnsafeMutablePointer<Double>?,
            perRow: UnsafeMutablePointer<Double>? = nil) -> Double {
        loops.kl(head, rows, logWeights, perRow)
    }

    /// dL/d(loc, rawScale) into `headGradient`, from dL/dz in `latentGradient`.
    ///
    /// Through the sample, plus the KL term's (weight `beta`).
    func backward(head: UnsafePointer<Float>, rows: Int, beta: Float) {
        loops.backward(head, rows, beta)
    }

    private static func loops<Family: PosteriorFamily>(_ posterior: Family, settings: ObjectiveSettings,
                                                        latentDimension: Int, buffers: Buffers) -> Loops {
        Loops(FamilyLoops(posterior: posterior, settings: settings, latentDimension: latentDimension, buffers: buffers))
    }

    private struct Buffers {
        let noise, latent, latentGradient, headGradient: FloatBuffer
    }

    /// `FamilyLoops` of one family behind closures, as AnySequence erases its base.
    private struct Loops {
        let draw: (UnsafePointer<Float>, UnsafeBufferPointer<Int>, Int, RandomStreams, RandomPurpose, Int) -> Void
        let kl: (UnsafePointer<Float>, Int, UnsafeMutablePointer<Double>?, UnsafeMutablePointer<Double>?) -> Double
        let backward: (UnsafePointer<Float>, Int, Float) -> Void

        init<Family>(_ loops: FamilyLoops<Family>) {
            draw = { loops.draw(head: $0, rowIndices: $1, rows: $2, streams: $3, purpose: $4, epoch: $5) }
            kl = { loops.kl(head: $0, rows: $1, logWeights: $2, perRow: $3) }
            backward = { loops.backward(head: $0, rows: $1, beta: $2) }
        }
    }

    /// The per-coordinate loops of the sample, generic over the family.
    private struct FamilyLoops<Family: PosteriorFamily> {
        let posterior: Family
        let z: Int
        let draws: Int
        let estimatorA: Bool
        let buffers: Buffers

        init(posterior: Family, settings: ObjectiveSettings, latentDimension: Int, buffers: Buffers) {
            self.posterior = posterior
            z = latentDimension
            draws = settings.samples
            estimatorA = settings.estimator == .A
            self.buffers = buffers
        }

        func draw(head: UnsafePointer<Float>, rowIndices: UnsafeBufferPointer<Int>, rows: Int,
                  streams: RandomStreams, purpose: RandomPurpose, epoch: Int) {
            let (noise, latent) = (buffers.noise.pointer, buffers.latent.pointer)
            for row in 0..<rows {
                let loc = head + row * 2 * z
                for draw in 0..<draws {
                    let offset = (row * draws + draw) * z
                    let (rowNoise, rowLatent) = (noise + offset, latent + offset)
                    posterior.noise(streams: streams, purpose: purpose, epoch: epoch,
                                    row: rowIndices[row], draw: draw, count: z, into: rowNoise)
                    for j in 0..<z {
                        rowLatent[j] = posterior.sample(loc: loc[j], rawScale: loc[z + j], eps: rowNoise[j]).z
                    }
                }
            }
        }

        func kl(head: UnsafePointer<Float>, rows: Int, logWeights: UnsafeMutablePointer<Double>?,
                perRow: UnsafeMutablePointer<Double>?) -> Double {
            var total = 0.0
            for row in 0..<rows {
                let loc = head + row * 2 * z
                let rowKL: Double
                if estimatorA {
                    var sum = 0.0
                    for draw in 0..<draws { sum += logRatio(row: row, draw: draw, loc: loc) }
                    rowKL = sum / Double(draws)
                } else {
                    var kl: Float = 0
                    for j in 0..<z { kl += posterior.klToStandardNormal(loc: loc[j], rawScale: loc[z + j]).value }
                    rowKL = Double(kl)
                }
                total += rowKL
                perRow?[row] = rowKL
                if let logWeights {
                    for draw in 0..<draws { logWeights[row * draws + draw] -= logRatio(row: row, draw: draw, loc: loc) }
                }
            }
            return total
        }

        /// log q(z|x) - log p(z) of one (row, draw), summed over the latent coordinates.
        private func logRatio(row: Int, draw: Int, loc: UnsafePointer<Float>) -> Double {
            let offset = (row * draws + draw) * z
            let (noise, latent) = (buffers.noise.pointer + offset, buffers.latent.pointer + offset)
            var sum: Float = 0
            for j in 0..<z {
                let logQ = posterior.standardLogDensity(noise[j]).value - 0.5 * loc[z + j]
                let logP = -0.5 * latent[j] * latent[j] - LatentConstants.halfLogTwoPi
                sum += logQ - logP
            }
            return Double(sum)
        }

        func backward(head: UnsafePointer<Float>, rows: Int, beta: Float) {
            let (noise, latent) = (buffers.noise.pointer, buffers.latent.pointer)
            let (latentGradient, headGradient) = (buffers.latentGradient.pointer, buffers.headGradient.pointer)
            let drawWeight = beta / Float(draws)
            for row in 0..<rows {
                let loc = head + row * 2 * z
                let locGradient = headGradient + row * 2 * z
                for j in 0..<z {
                    var dLoc: Float = 0
                    var dRawScale: Float = 0
                    let scale = Foundation.exp(0.5 * loc[z + j])
                    for draw in 0..<draws {
                        let offset = (row * draws + draw) * z + j
                        let eps = noise[offset]
                        var dSample = latentGradient[offset]
                        if estimatorA {
                            // beta/L * (log q(z) - log p(z)); log q through z and through (loc, rawScale).
                            let logDensitySlope = posterior.standardLogDensity(eps).derivative
                            dSample += drawWeight * (logDensitySlope / scale + latent[offset])
                            dLoc -= drawWeight * logDensitySlope / scale
                            dRawScale -= drawWeight * 0.5 * (logDensitySlope * eps + 1)
                        }
                        // The sampler's partials (PosteriorFamily.sample): dz/dloc = 1, dz/drawScale = s eps / 2.
                        dLoc += dSample
                        dRawScale += dSample * 0.5 * scale * eps
                    }
                    if !estimatorA {
                        let kl = posterior.klToStandardNormal(loc: loc[j], rawScale: loc[z + j])
                        dLoc += beta * kl.dLoc
                        dRawScale += beta * kl.dRawScale
                    }
                    locGradient[j] = dLoc
                    locGradient[z + j] = dRawScale
                }
            }
        }
    }
}
