/// An optimizer with a cheaper pass over parameters whose gradient is known to be 0.
///
/// It says after each step whether it wrote any of them. The dormant units' weight rows
/// get a gradient of exactly 0 (`DormantUnits`). Told where they are, Adam only decays
/// their second moments there, with the same bits as its plain pass; and while no step
/// wrote them, `DormantUnits.verify` may trust those rows without comparing them
/// (docs/performance.md, "Fewer passes over memory per step").
public protocol QuietRangeOptimizer: Optimizer {
    /// Ranges of the parameters whose gradient the caller expects to be exactly 0, ascending and disjoint.
    ///
    /// A hint for speed: the results are the same bits whether or not it holds.
    var quietRangesHint: [Range<Int>] { get set }

    /// After a step: true when it wrote no parameter inside `quietRangesHint`.
    ///
    /// Only within the step's range; false when it cannot say.
    var leftQuietRangesUnwritten: Bool { get }

    /// Whether the quiet pass can leave `range` unwritten while its gradient is 0.
    ///
    /// Adam: when its first moments there are all +0.
    func canStayQuiet(_ range: Range<Int>) -> Bool
}
