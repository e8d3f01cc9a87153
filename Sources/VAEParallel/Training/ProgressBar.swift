import Foundation

/// A live one-line progress bar on a terminal.
///
/// Silent when stdout is a file or pipe (batch jobs keep clean logs: one line per epoch).
/// Under an MPI launcher stdout is a pseudo-terminal even when mpirun's own output goes
/// to a file, so the caller asks for the bar only when it knows the terminal is real.
final class ProgressBar {
    private let enabled: Bool
    private let epoch: Int, epochs: Int, globalBatch: Int
    private let start = Date()
    private var lastDraw = Date.distantPast

    init(enabled: Bool, epoch: Int, epochs: Int, globalBatch: Int) {
        self.enabled = enabled && isatty(STDOUT_FILENO) != 0
        self.epoch = epoch
        self.epochs = epochs
        self.globalBatch = globalBatch
    }

    func update(step: Int, of steps: Int) {
        guard enabled else { return }
        let now = Date()
        guard now.timeIntervalSince(lastDraw) > 0.2 || step == steps else { return }
        lastDraw = now
        let width = 30
        let filled = width * step / max(steps, 1)
        let elapsed = now.timeIntervalSince(start)
        let rate = Double(step) * Double(globalBatch) / max(elapsed, 1e-9)
        let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
        let text = "\repoch \(epoch)/\(epochs) [\(bar)] \(step)/\(steps)  \(Int(rate)) samples/s  "
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    func finish() {
        guard enabled else { return }
        FileHandle.standardOutput.write(Data(("\r" + String(repeating: " ", count: 90) + "\r").utf8))
    }
}
