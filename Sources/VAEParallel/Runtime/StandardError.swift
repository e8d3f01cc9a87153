import Foundation

/// Writes one line to standard error. FileHandle writes straight to the descriptor
/// (no stdio buffer), so the line is out before an abort tears the process down.
/// A message with line breaks (some library texts have them) is joined into one line,
/// so that each rank's error stays one grep-able line.
func writeToStandardError(_ line: String) {
    let text = line.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        .joined(separator: " ") + "\n"
    FileHandle.standardError.write(Data(text.utf8))
}
