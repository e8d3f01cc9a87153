import Foundation
import XCTest

/// Asserts `body` throws an error whose description is one line containing every fragment.
public func assertThrows<T>(_ body: @autoclosure () throws -> T, containing fragments: [String],
                            file: StaticString = #filePath, line: UInt = #line) {
    do {
        _ = try body()
        XCTFail("expected an error containing \(fragments)", file: file, line: line)
    } catch {
        let text = "\(error)"
        for fragment in fragments {
            XCTAssertTrue(text.contains(fragment), "error '\(text)' lacks '\(fragment)'", file: file, line: line)
        }
        XCTAssertFalse(text.contains("\n"), "error is not one line: \(text)", file: file, line: line)
    }
}
