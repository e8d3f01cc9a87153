import Foundation

/// Median, minimum and maximum of repeated measurements: the numbers a benchmark reports.
public struct Spread: Codable, Equatable, Sendable {
    public let median: Double
    public let min: Double
    public let max: Double
    public let count: Int

    public init(_ values: [Double]) {
        precondition(!values.isEmpty, "a spread of no values")
        let sorted = values.sorted()
        let middle = sorted.count / 2
        median = sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
        min = sorted[0]
        max = sorted[sorted.count - 1]
        count = sorted.count
    }

    /// (max - min) / median: the relative width a reader should attach to the median.
    public var relativeRange: Double { median == 0 ? 0 : (max - min) / median }

    public func scaled(by factor: Double) -> Spread {
        Spread(median: median * factor, min: min * factor, max: max * factor, count: count)
    }

    private init(median: Double, min: Double, max: Double, count: Int) {
        self.median = median
        self.min = min
        self.max = max
        self.count = count
    }
}
