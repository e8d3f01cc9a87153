import VAECore
import VAEIO

/// How far one step's bf16 gradient is from the fp32 one, at the same parameters and rows.
///
/// The question `--precision bf16` raises: the optimizer sees a gradient whose GEMM inputs
/// were rounded to 8 significant bits. Measured on the first `rows` rows of the data, the
/// training noise of epoch 0, once at the initial parameters and once at the trained ones.
public struct GradientDifference: Codable, Sendable {
    public struct AtParameters: Codable, Sendable {
        /// ||g_bf16 - g_fp32|| / ||g_fp32|| over the whole flat gradient.
        public var relativeNorm: Double
        /// g_bf16 . g_fp32 / (||g_bf16|| ||g_fp32||).
        public var cosine: Double
        /// The tensor with the largest relative difference, and that difference.
        public var worstTensor: String
        public var worstTensorRelativeNorm: Double
        /// The loss of the rows in each precision, nats per row.
        public var lossFP32: Double
        public var lossBF16: Double
    }

    public var rows: Int
    public var initial: AtParameters
    public var trained: AtParameters

    /// Rounds nothing but the GEMM inputs: the same objective and rows on OpenBLAS fp32 and
    /// oneDNN bf16, then the installed engine is put back. Nil without AVX512_BF16.
    public static func measure(configuration: TrainingConfiguration, objective: ELBOObjective,
                               trained: UnsafePointer<Float>, source: any MinibatchSource, rows: Int) throws -> GradientDifference? {
        guard OneDNNGEMM.hasBFloat16Instructions else { return nil }
        let count = min(rows, objective.maxRows, source.rowCount)
        let rowIndices = Array(0..<count)
        let batch = FloatBuffer(count: count * source.featureCount)
        try source.beginEpoch(plan: [rowIndices])
        _ = try source.nextBatch(into: batch.pointer)
        let initial = FloatBuffer(count: objective.layout.totalCount)
        configuration.initialization.initialize(initial.pointer, layout: objective.layout, seed: configuration.seed)
        let installed = (GEMMRuntime.engine, GEMMRuntime.reason ?? "default")
        defer { GEMMRuntime.use(installed.0, reason: installed.1) }
        let engines: [any GEMMEngine] = [OpenBLASGEMM(), try OneDNNGEMM(precision: .bf16)]

        func compare(_ parameters: UnsafePointer<Float>) -> AtParameters {
            let results = engines.map { engine -> (gradient: [Float], loss: Double) in
                GEMMRuntime.use(engine, reason: "GradientDifference")
                let gradient = FloatBuffer(count: objective.layout.totalCount)
                let terms = rowIndices.withUnsafeBufferPointer {
                    objective.evaluate(batch: batch.pointer, rowIndices: $0, count: count,
                                       streams: RandomStreams(seed: configuration.seed), epoch: 0,
                                       beta: configuration.beta, parameters: parameters, gradients: gradient.pointer)
                }
                return (gradient.array, terms.loss / Double(count))
            }
            let (fp32, bf16) = (results[0].gradient, results[1].gradient)
            func norm(_ values: ArraySlice<Float>) -> Double { values.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot() }
            func difference(_ range: Range<Int>) -> Double {
                zip(bf16[range], fp32[range]).reduce(0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }.squareRoot()
                    / max(norm(fp32[range]), 1e-30)
            }
            let dot = zip(bf16, fp32).reduce(0) { $0 + Double($1.0) * Double($1.1) }
            let worst = objective.layout.tensors.map { ($0.name, difference($0.offset..<$0.offset + $0.count)) }
                .max { $0.1 < $1.1 }!
            return AtParameters(relativeNorm: difference(0..<fp32.count), cosine: dot / max(norm(bf16[...]) * norm(fp32[...]), 1e-30),
                                worstTensor: worst.0, worstTensorRelativeNorm: worst.1,
                                lossFP32: results[0].loss, lossBF16: results[1].loss)
        }
        return GradientDifference(rows: count, initial: compare(initial.pointer), trained: compare(trained))
    }
}
