import Foundation
import XCTest
@testable import VAEParallel

/// The progress of long commands: a bar that fits the terminal, plain lines every N
/// seconds for logs, nothing when off; and the choice between them.
final class ProgressReporterTests: XCTestCase {
    private final class Captured { var text = "" }

    private func reporter(_ style: ProgressStyle, total: Int = 469, start: Date) -> (ProgressReporter, Captured) {
        let captured = Captured()
        let reporter = ProgressReporter(style: style, title: "epoch 3/10", total: total, unit: "steps", rateUnit: "samples/s",
                                        now: start, output: { captured.text += $0 })
        return (reporter, captured)
    }

    func testTheBarShowsCountLossRateAndETAWithinTheWidth() {
        let start = Date(timeIntervalSince1970: 1000)
        let (bar, captured) = reporter(.bar(columns: 100), start: start)
        bar.update(done: 234, items: 234 * 128, status: "-ELBO 245.12", now: start + 1)
        let line = captured.text
        XCTAssertTrue(line.hasPrefix("\repoch 3/10 ["), line)
        XCTAssertTrue(line.hasSuffix("] 234/469  -ELBO 245.12  29,952 samples/s  ETA 0:01"), line)
        XCTAssertLessThan(line.count - 1, 100, "one character short of the width, so the terminal never wraps")
        // A narrow terminal drops the bar before it drops the numbers.
        let (narrow, narrowText) = reporter(.bar(columns: 60), start: start)
        narrow.update(done: 234, items: 234 * 128, status: "-ELBO 245.12", now: start + 1)
        XCTAssertFalse(narrowText.text.contains("["), narrowText.text)
        XCTAssertLessThanOrEqual(narrowText.text.count - 1, 59, narrowText.text)
    }

    func testTheBarRedrawsAtMostFiveTimesASecondAndClearsItself() {
        let start = Date(timeIntervalSince1970: 1000)
        let (bar, captured) = reporter(.bar(columns: 80), total: 100, start: start)
        for step in 1...50 { bar.update(done: step, items: step, now: start + Double(step) * 0.01) }
        XCTAssertEqual(captured.text.filter { $0 == "\r" }.count, 2, "draws at 0.2 s and 0.4 s of 0.5 s")
        bar.update(done: 100, items: 100, now: start + 0.51)
        // The last draw is padded with spaces over the longer one before it.
        let last = captured.text.split(separator: "\r").last!.trimmingCharacters(in: .whitespaces)
        XCTAssertTrue(last.hasSuffix("100/100  196 samples/s  ETA 0:00"), last)
        bar.finish()
        XCTAssertTrue(captured.text.hasSuffix("\r"), "the line is blanked and the cursor back at its start")
        XCTAssertFalse(captured.text.contains("\n"))
    }

    func testLinesComeOncePerIntervalForLogs() {
        let start = Date(timeIntervalSince1970: 1000)
        let (lines, captured) = reporter(.lines(interval: 30), start: start)
        for second in 1...100 { lines.update(done: second, items: second * 128, status: "-ELBO 250.00", now: start + Double(second)) }
        XCTAssertEqual(captured.text.split(separator: "\n"), [
            "epoch 3/10: 30 of 469 steps (6%), -ELBO 250.00, 128 samples/s, 7:19 left",
            "epoch 3/10: 60 of 469 steps (12%), -ELBO 250.00, 128 samples/s, 6:49 left",
            "epoch 3/10: 90 of 469 steps (19%), -ELBO 250.00, 128 samples/s, 6:19 left",
        ])
        lines.finish()
        XCTAssertEqual(captured.text.split(separator: "\n").count, 3)
    }

    func testOffPrintsNothing() {
        let start = Date(timeIntervalSince1970: 1000)
        let (off, captured) = reporter(.off, start: start)
        for step in 1...469 { off.update(done: step, items: step, now: start + Double(step)) }
        off.finish()
        XCTAssertEqual(captured.text, "")
    }

    /// The test's own standard output is a pipe, as in a batch job: auto chooses lines.
    func testAutoChoosesLinesWhenTheOutputIsNoTerminal() {
        XCTAssertEqual(isatty(STDERR_FILENO), 0, "the test runner's output is captured")
        XCTAssertEqual(ProgressStyle.choose(.auto, interval: 30, environment: [:]), .lines(interval: 30))
        // Under srun no rank can see the user's terminal.
        XCTAssertEqual(ProgressStyle.choose(.auto, interval: 5, environment: ["PMIX_RANK": "0"]), .lines(interval: 5))
        XCTAssertEqual(ProgressStyle.choose(.off, interval: 30, environment: [:]), .off)
        XCTAssertEqual(ProgressStyle.choose(.bar, interval: 30, environment: [:]), .bar(columns: 80))
    }
}
