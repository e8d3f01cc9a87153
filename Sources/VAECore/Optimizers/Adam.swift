import CVAEKernels
import Foundation

/// Adam (Kingma & Ba) with bias correction; one fused pass over the buffers.
public final class Adam: QuietRangeOptimizer {
    public var learningRate: Float
    public let beta1: Float = 0.9
    public let beta2: Float = 0.999
    public let epsilon: Float = 1e-8
    public let weightDecay: Float
    public var stepCount = 0
    /// Where the quiet kernel runs (`QuietRangeOptimizer`).
    ///
    /// `vae_adam_step_quiet` checks each block (gradient 0, first moments +0) and only decays
    /// the second moments where that holds.
    public var quietRangesHint: [Range<Int>] = []
    /// Whether the last step took the quiet path in every hinted block of its range.
    public private(set) var leftQuietRangesUnwritten = false
    let firstMoment: FloatBuffer
    let secondMoment: FloatBuffer

    public init(parameterCount: Int, learningRate: Float, weightDecay: Float = 0,
                allocate: (Int) -> FloatBuffer = { FloatBuffer(count: $0) }) {
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        firstMoment = allocate(parameterCount)
        secondMoment = allocate(parameterCount)
    }

    public var name: String { "adam" }
    public var state: [(name: String, buffer: FloatBuffer)] { [("exp_avg", firstMoment), ("exp_avg_sq", secondMoment)] }

    /// Whether every first moment in `range` is +0 (bitwise).
    ///
    /// With a zero gradient there, the quiet pass then leaves those parameters unwritten.
    public func canStayQuiet(_ range: Range<Int>) -> Bool {
        UnsafeBufferPointer(start: firstMoment.pointer + range.lowerBound, count: range.count)
            .allSatisfy { $0.bitPattern == 0 }
    }

    @discardableResult
    public func step(parameters: FloatBuffer, gradients: FloatBuffer, gradientScale: Float, range: Range<Int>) -> Bool {
        checkStep(parameters: parameters, gradients: gradients, range: range)
        stepCount += 1
        let t = Double(stepCount)
        let stepSize = Float(Double(learningRate) / (1 - pow(Double(beta1), t)))
        let inverseCorrection2Root = Float(1 / (1 - pow(Double(beta2), t)).squareRoot())
        let (b1, b2, eps, decay) = (beta1, beta2, epsilon, weightDecay)
        // One fused pass over the four buffers (CVAEKernels), the hinted ranges by the quiet kernel.
        var finite = true
        var allQuiet: Int32 = 1
        var next = range.lowerBound
        func update(_ part: Range<Int>, quiet: Bool) {
            guard !part.isEmpty else { return }
            let (m, v) = (firstMoment.pointer + part.lowerBound, secondMoment.pointer + part.lowerBound)
            let (p, g) = (parameters.pointer + part.lowerBound, gradients.pointer + part.lowerBound)
            let result = quiet
                ? vae_adam_step_quiet(p, g, m, v, part.count, gradientScale, b1, b2, stepSize, inverseCorrection2Root,
                                      eps, decay, &allQuiet)
                : vae_adam_step(p, g, m, v, part.count, gradientScale, b1, b2, stepSize, inverseCorrection2Root, eps,
                                decay)
            finite = result != 0 && finite
        }
        for hint in quietRangesHint {
            let quiet = hint.clamped(to: next..<range.upperBound)
            guard !quiet.isEmpty else { continue }
            update(next..<quiet.lowerBound, quiet: false)
            update(quiet, quiet: true)
            next = quiet.upperBound
        }
        update(next..<range.upperBound, quiet: false)
        leftQuietRangesUnwritten = allQuiet != 0
        return finite
    }
}
