/// Input that is readable but not what vae-dist expects: a wrong shape, dtype,
/// value, or an input file that is not in the format it claims. One line,
/// naming the file, the object (dataset/attribute path) and the row when known.
public struct DataError: Error, CustomStringConvertible, Sendable {
    public let file: String
    public let object: String?
    public let row: Int?
    public let message: String

    public init(file: String, object: String? = nil, row: Int? = nil, _ message: String) {
        self.file = file
        self.object = object
        self.row = row
        self.message = message
    }

    public var description: String {
        var parts = [file]
        if let object { parts.append(object) }
        if let row { parts.append("row \(row)") }
        parts.append(message)
        return parts.joined(separator: ": ")
    }
}
