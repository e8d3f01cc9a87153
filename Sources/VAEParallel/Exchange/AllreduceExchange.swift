import VAECore

/// One blocking allreduce of the fused buffer per step; every rank updates every parameter.
///
/// Every rank holds its own parameters, optimizer state and fused buffer. After the
/// backward one in-place `MPI_Allreduce` sums [gradients | loss sums | stop | status]
/// (`allreduceSum(_:reportingFailure:)` writes the status), and every rank applies the
/// same optimizer step to the same sums. Works across any number of nodes; with one
/// process the allreduce is the identity.
class AllreduceExchange: GradientExchange {
    let communicator: any Communicator
    let parameters: FloatBuffer
    let localGradient: FloatBuffer
    /// Why `auto` did not take the shared-memory exchange, when it could have been asked for.
    let note: String?

    init(communicator: any Communicator, parameterCount: Int, note: String? = nil) {
        self.communicator = communicator
        parameters = FloatBuffer(count: parameterCount)
        localGradient = FloatBuffer(count: parameterCount + FusedTail.count)
        self.note = note
    }

    var parameterCount: Int { parameters.count }
    var exchangeSeconds: Double { 0 }
    var summary: String { "MPI allreduce of the fused gradient buffer" + (note.map { " (\($0))" } ?? "") }

    func decoderGradientsReady() {}

    func reduce(localFailure: String?, needsSumOfSquares: Bool) throws -> ReducedStep {
        try communicator.allreduceSum(localGradient.buffer, reportingFailure: localFailure)
        return reducedStep(needsSumOfSquares: needsSumOfSquares)
    }

    /// The sums in the reduced fused buffer.
    ///
    /// One pass over the gradient gives both its finiteness and the clipping norm; the
    /// 1 / rows scale and the clip factor are applied by the optimizer as it reads the
    /// gradient. When nothing needs that pass before the update, it is left out: the
    /// optimizer's own pass says whether the gradient was finite.
    func reducedStep(needsSumOfSquares: Bool) -> ReducedStep {
        ReducedStep(tail: localGradient.pointer + parameterCount,
                    sumOfSquares: needsSumOfSquares
                        ? GradientClipping.sumOfSquares(localGradient.pointer, count: parameterCount) : nil)
    }

    func update(optimizer: any Optimizer, gradientScale: Float) throws -> UpdateVerdict {
        let finite = optimizer.step(parameters: parameters, gradients: localGradient, gradientScale: gradientScale)
        let quietRangesUnwritten = (optimizer as? any QuietRangeOptimizer)?.leftQuietRangesUnwritten ?? false
        return UpdateVerdict(gradientFinite: finite, quietRangesUnwritten: quietRangesUnwritten)
    }

    func reducedSumOfSquares(_ range: Range<Int>) -> Double {
        GradientClipping.sumOfSquares(localGradient.pointer + range.lowerBound, count: range.count)
    }

    func makeOptimizer(_ configuration: TrainingConfiguration) -> any Optimizer {
        configuration.makeOptimizer(parameterCount: parameterCount)
    }

    /// Every rank holds the whole buffer: its share is all of it.
    func store(_ values: UnsafePointer<Float>, into buffer: FloatBuffer) {
        buffer.pointer.update(from: values, count: buffer.count)
    }

    func publish() throws {}
}
