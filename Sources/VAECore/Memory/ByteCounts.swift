import Foundation

/// Parses a byte count such as "512M", "2G", "64KiB" or "1000000" (binary units); nil
/// for text that is not one, or a count beyond what an Int holds ("1e30G", "infG").
public func parseByteCount(_ text: String) -> Int? {
    let trimmed = text.trimmingCharacters(in: .whitespaces).uppercased()
    let units: [(String, Int)] = [("KIB", 1 << 10), ("MIB", 1 << 20), ("GIB", 1 << 30), ("TIB", 1 << 40),
                                  ("KB", 1 << 10), ("MB", 1 << 20), ("GB", 1 << 30), ("TB", 1 << 40),
                                  ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30), ("T", 1 << 40), ("B", 1)]
    for (suffix, multiplier) in units where trimmed.hasSuffix(suffix) {
        guard let number = Double(trimmed.dropLast(suffix.count)), number >= 0 else { return nil }
        let bytes = number * Double(multiplier)
        return bytes < 0x1p63 ? Int(bytes) : nil
    }
    return Int(trimmed).flatMap { $0 >= 0 ? $0 : nil }
}

/// "64.0 MiB" and friends, for messages.
public func formatByteCount(_ bytes: Int) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024, unit < units.count - 1 { value /= 1024; unit += 1 }
    return unit == 0 ? "\(bytes) B" : String(format: "%.1f", value) + " " + units[unit]
}
