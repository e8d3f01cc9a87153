import Foundation
import XCTest
import VAETestSupport
@testable import VAEIO

final class NormalQuantileTests: XCTestCase {
    func testKnownQuantiles() {
        // Published values of the standard normal quantile function.
        XCTAssertEqual(standardNormalQuantile(0.5), 0, accuracy: 1e-15)
        XCTAssertEqual(standardNormalQuantile(0.975), 1.959963984540054, accuracy: 1e-13)
        XCTAssertEqual(standardNormalQuantile(0.025), -1.959963984540054, accuracy: 1e-13)
        XCTAssertEqual(standardNormalQuantile(0.8413447460685429), 1, accuracy: 1e-12)
        XCTAssertEqual(standardNormalQuantile(1e-10), -6.361340902404056, accuracy: 1e-9)
    }

    func testQuantileInvertsTheCDFAcrossTheRange() {
        // Phi(x) = erfc(-x / sqrt 2) / 2; after the Halley step the round trip is near double precision.
        for index in 1..<1000 {
            let p = Double(index) / 1000
            let x = standardNormalQuantile(p)
            XCTAssertEqual(0.5 * erfc(-x / 2.0.squareRoot()), p, accuracy: 1e-14 + 1e-12 * p, "p = \(p)")
        }
    }

    func testManifoldQuantilesAreMidpointsOfEqualMassBinsByDefault() {
        XCTAssertEqual(Pictures.manifoldQuantiles(steps: 4), [0.125, 0.375, 0.625, 0.875])
        let ranged = Pictures.manifoldQuantiles(steps: 3, range: 0.05...0.95)
        XCTAssertEqual(ranged[0], 0.05, accuracy: 1e-15)
        XCTAssertEqual(ranged[1], 0.5, accuracy: 1e-15)
        XCTAssertEqual(ranged[2], 0.95, accuracy: 1e-15)
        XCTAssertEqual(Pictures.manifoldQuantiles(steps: 1), [0.5])
    }
}
