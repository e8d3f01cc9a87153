import Foundation

/// Shows how far a long command got: done of total, a status (the running loss), the rate
/// and the time left, as a bar or as plain lines (`ProgressStyle`).
///
/// The caller reports as often as it likes (every step); the reporter draws at most five
/// times a second as a bar, once per interval as lines. Only rank 0 makes one (the others
/// pass `.off`), so a job prints one progress, not one per rank. It goes to standard
/// error, as tqdm's does: standard output keeps the results (`eval --json` stays one line).
public final class ProgressReporter {
    public let style: ProgressStyle
    private let title: String
    private let total: Int
    private let unit: String
    private let rateUnit: String
    private let output: (String) -> Void
    private let start: Date
    private var lastDraw: Date
    private var drawnWidth = 0

    /// - Parameters:
    ///   - title: what is in progress, e.g. "epoch 3/10".
    ///   - total: units of work, e.g. the epoch's steps; 0 when unknown.
    ///   - unit: their name in plain lines, e.g. "steps".
    ///   - rateUnit: what `update`'s `items` count per second, e.g. "samples/s".
    ///   - output: where the text goes (standard error; tests capture it).
    public init(style: ProgressStyle, title: String, total: Int, unit: String, rateUnit: String,
                now: Date = Date(), output: ((String) -> Void)? = nil) {
        self.style = style
        self.title = title
        self.total = total
        self.unit = unit
        self.rateUnit = rateUnit
        self.output = output ?? Console.writeError
        start = now
        lastDraw = now
    }

    /// `done` of the total units, `items` processed in all (for the rate), and a status.
    public func update(done: Int, items: Int, status: String? = nil, now: Date = Date()) {
        switch style {
        case .off:
            return
        case .bar(let columns):
            guard now.timeIntervalSince(lastDraw) >= 0.2 || done == total else { return }
            lastDraw = now
            let line = barLine(done: done, items: items, status: status, columns: columns, now: now)
            output("\r" + line + String(repeating: " ", count: max(0, drawnWidth - line.count)))
            drawnWidth = line.count
        case .lines(let interval):
            guard now.timeIntervalSince(lastDraw) >= interval, done < total || total == 0 else { return }
            lastDraw = now
            output(plainLine(done: done, items: items, status: status, now: now) + "\n")
        }
    }

    /// Clears the bar, so the next line starts on a clean line; lines need nothing.
    public func finish() {
        guard case .bar = style, drawnWidth > 0 else { return }
        output("\r" + String(repeating: " ", count: drawnWidth) + "\r")
        drawnWidth = 0
    }

    /// The rate and the seconds left, from the work done since the start.
    private func pace(done: Int, items: Int, now: Date) -> (rate: Double, remaining: Double?) {
        let elapsed = max(now.timeIntervalSince(start), 1e-9)
        let remaining = total > 0 && done >= total ? 0 : done > 0 && total > done ? elapsed / Double(done) * Double(total - done) : nil
        return (Double(items) / elapsed, remaining)
    }

    /// "epoch 3/10 [=====>    ] 234/469  loss 245.12  30,100 samples/s  ETA 0:08", as wide as fits.
    func barLine(done: Int, items: Int, status: String?, columns: Int, now: Date) -> String {
        let (rate, remaining) = pace(done: done, items: items, now: now)
        // Padded to the total's width, so the bar keeps its length as the count grows.
        let counts = total > 0 ? String(repeating: " ", count: max(0, String(total).count - String(done).count)) + "\(done)/\(total)"
                               : "\(done)"
        var tail = [counts]
        if let status { tail.append(status) }
        tail.append("\(grouped(rate)) \(rateUnit)")
        tail.append("ETA " + (remaining.map(clock) ?? "--:--"))
        let text = tail.joined(separator: "  ")
        // The bar takes what is left of the width, if at least 10 characters; else no bar.
        let room = columns - 1 - title.count - text.count - 4
        guard total > 0, room >= 10 else { return String((title + "  " + text).prefix(max(columns - 1, 0))) }
        let width = min(room, 40)
        let filled = min(width, width * done / total)
        let bar = String(repeating: "=", count: filled) + (filled < width ? ">" : "")
            + String(repeating: " ", count: max(0, width - filled - 1))
        return "\(title) [\(bar)] \(text)"
    }

    /// "epoch 3/10: 234 of 469 steps (50%), loss 245.12, 30,100 samples/s, 0:08 left".
    func plainLine(done: Int, items: Int, status: String?, now: Date) -> String {
        let (rate, remaining) = pace(done: done, items: items, now: now)
        var parts = [total > 0 ? "\(done) of \(total) \(unit) (\(100 * done / total)%)" : "\(done) \(unit)"]
        if let status { parts.append(status) }
        parts.append("\(grouped(rate)) \(rateUnit)")
        if let remaining { parts.append("\(clock(remaining)) left") }
        return "\(title): " + parts.joined(separator: ", ")
    }

    /// 30100.4 -> "30,100"; below 100 one decimal.
    private func grouped(_ value: Double) -> String {
        guard value.isFinite else { return "-" }
        if value < 100 { return String(format: "%.1f", value) }
        let digits = String(Int(value.rounded()))
        var result = ""
        for (index, character) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { result.append(",") }
            result.append(character)
        }
        return result
    }
}
