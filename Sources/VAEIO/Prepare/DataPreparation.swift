import Foundation

/// Converters from common formats (IDX, CSV, NPY) into the data layout.
public enum DataPreparation {}

/// What a prepare wrote.
public struct PrepareSummary: Sendable, CustomStringConvertible {
    public var path: String
    public var rows: Int
    public var features: Int
    public var featureType: FeatureType
    public var hasLabels: Bool
    public var fingerprint: String
    public var seconds: Double

    public var description: String {
        "\(path): /features \(featureType.rawValue) [\(rows), \(features)]" + (hasLabels ? ", /labels [\(rows)]" : "")
            + ", fingerprint \(fingerprint) (" + String(format: "%.1f", seconds) + " s)"
    }
}

extension DataPreparation {
    static func timed(output: String, _ body: () throws -> PrepareSummary) throws -> PrepareSummary {
        let start = Date()
        var summary = try body()
        summary.seconds = Date().timeIntervalSince(start)
        return summary
    }
}
