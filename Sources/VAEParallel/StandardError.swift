import Foundation

/// Writes one line to standard error. FileHandle writes straight to the descriptor
/// (no stdio buffer), so the line is out before an abort tears the process down.
func writeToStandardError(_ line: String) {
    let text = line.hasSuffix("\n") ? line : line + "\n"
    FileHandle.standardError.write(Data(text.utf8))
}
