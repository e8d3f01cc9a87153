import Foundation

/// Where every line vae-dist prints goes: one helper for all commands.
///
/// Lines are written straight to the file descriptor (FileHandle keeps no stdio
/// buffer), so what was printed survives mpirun killing the job after a failure.
/// Under mpirun every rank shares the terminal: results and progress are printed by
/// rank 0 only (`Communicator.printOnRoot`, llm.c's printf0), errors by the rank that
/// has them.
public enum Console {
    /// Writes `line` and a newline to standard output.
    public static func print(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    /// Writes `line` to standard error as one line.
    ///
    /// A message with line breaks (some library texts have them) is joined, so that
    /// each rank's error stays one grep-able line.
    public static func printError(_ line: String) {
        let text = line.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .joined(separator: " ")
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}

extension Communicator {
    /// Prints `line` on rank 0 only, through `output` (standard output by default).
    ///
    /// The other ranks would print the same line again; a job says each thing once.
    public func printOnRoot(_ line: @autoclosure () -> String, to output: (String) -> Void = Console.print) {
        if isRoot { output(line()) }
    }
}
