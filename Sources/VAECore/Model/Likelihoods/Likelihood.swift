import Foundation

/// The decoder's observation model p(x|z), factorised over the D pixels.
///
/// The decoder's output layer gives one unconstrained value y per pixel.
public protocol Likelihood: Sendable {
    var name: String { get }

    /// Whether data must lie in [0, 1] (checked when data is opened).
    var requiresUnitInterval: Bool { get }

    /// Sum over `count` pixels of -log p(x|y), and its gradient, in one fused pass.
    ///
    /// `gradientScale` times the derivative w.r.t. each y is written to `gradient`.
    func negativeLogLikelihood(
        data: UnsafePointer<Float>, output: UnsafePointer<Float>, count: Int,
        gradientScale: Float, gradient: UnsafeMutablePointer<Float>
    ) -> Double
}
