/// An update rule over the flat parameter and gradient buffers, with PyTorch semantics.
///
/// `step` consumes the averaged gradient of one global batch; weight decay is coupled
/// L2, added to it (docs/algorithm.md, "Optimizers").
public protocol Optimizer: AnyObject {
    var name: String { get }
    /// The rate of the next update (the trainer sets it per step when it follows a schedule).
    var learningRate: Float { get set }
    /// Number of updates applied so far (t of the last update).
    var stepCount: Int { get set }
    /// Per-parameter state, each buffer laid out like the parameters; named for checkpoints.
    var state: [(name: String, buffer: FloatBuffer)] { get }

    /// One update from `gradients` times `gradientScale`, of the parameters in `range` only.
    ///
    /// `gradientScale` is the trainer's 1 / rows and clip factor. A rank of a sharded
    /// update owns one range, and the ranks together update every parameter once. The
    /// step count advances once per call. Returns whether every gradient in `range` was
    /// finite: the pass checks each as it reads it, so a caller that needs nothing else of
    /// the gradient makes no pass of its own (an Inf or NaN has then already reached the
    /// parameters and state).
    @discardableResult
    func step(parameters: FloatBuffer, gradients: FloatBuffer, gradientScale: Float, range: Range<Int>) -> Bool
}

extension Optimizer {
    /// One update of every parameter; whether every gradient was finite.
    @discardableResult
    public func step(parameters: FloatBuffer, gradients: FloatBuffer, gradientScale: Float = 1) -> Bool {
        step(parameters: parameters, gradients: gradients, gradientScale: gradientScale, range: 0..<parameters.count)
    }
}

/// Checks shared by the optimizers' steps.
///
/// The gradient buffer may carry extra slots after the parameters (the trainer fuses
/// its loss sums there); `range` lies inside the parameters.
func checkStep(parameters: FloatBuffer, gradients: FloatBuffer, range: Range<Int>) {
    precondition(gradients.count >= parameters.count, "gradient buffer smaller than the parameters")
    precondition(range.lowerBound >= 0 && range.upperBound <= parameters.count, "update range outside the parameters")
}
