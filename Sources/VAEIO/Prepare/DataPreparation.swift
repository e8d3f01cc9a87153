import Foundation

/// Converters from common formats (IDX, CSV, NPY, HDF5) into the data layout.
public enum DataPreparation {}

/// How far a conversion is: (done, total, rows written), called after each block of rows.
///
/// done and total count rows, or for CSV, whose rows are known only at the end, bytes of
/// the file read.
public typealias PrepareProgress = (_ done: Int, _ total: Int, _ rows: Int) -> Void

/// What a prepare wrote.
public struct PrepareSummary: Sendable, CustomStringConvertible {
    public var path: String
    public var rows: Int
    public var features: Int
    public var featureType: FeatureType
    public var hasLabels: Bool
    public var fingerprint: String
    public var seconds: Double
    /// The rows' [C, H, W] when the input was an image array.
    public var imageShape: ImageShape? = nil
    /// How the input's dimensions were read, e.g. "[N, H, W, C] = [100, 32, 32, 3]" (array inputs).
    public var reading: String? = nil

    public var description: String {
        "\(path): /features \(featureType.rawValue) [\(rows), \(features)]" + (hasLabels ? ", /labels [\(rows)]" : "")
            + (imageShape.map { ", image_shape \($0.dimensions)" } ?? "")
            + ", fingerprint \(fingerprint) (" + String(format: "%.1f", seconds) + " s)"
            + (reading.map { "\n  input read as \($0)" } ?? "")
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
