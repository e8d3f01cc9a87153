import Foundation
import XCTest
import VAETestSupport
@testable import VAECore
@testable import VAEParallel

/// `vae-dist train --posterior`: which estimator a run uses is explicit, and
/// estimator B is refused, by name, for a family without an analytic KL.
final class PosteriorFamilyCommandLineTests: XCTestCase {
    func testEstimatorBWithCauchyIsRefusedInOneLineNamingTheFamily() throws {
        let result = try runProcess(try vaeDistBinary(), ["train", "--posterior", "cauchy", "--estimator", "B",
                                                          "--data", "/nonexistent.h5"],
                                    environment: childEnvironment())
        XCTAssertEqual(result.status, 64, result.standardError)
        XCTAssertTrue(result.standardError.contains(
            "--estimator B needs an analytic KL; --posterior cauchy has none (its KL to the N(0, I) prior is infinite): use --estimator A"),
            result.standardError)
    }

    func testCauchyRunDefaultsToEstimatorAAndRecordsItInBannerAndConfig() throws {
        let directory = try makeScratchDirectory(self)
        let dataPath = directory + "/data.h5"
        try writeDataFile(dataPath, features: syntheticFeatures(rows: 24, features: 10, seed: 5), rows: 24)
        for (family, estimator) in [("cauchy", "A"), ("gumbel", "B")] {
            let out = directory + "/run-\(family)"
            let result = try runProcess(try vaeDistBinary(), [
                "train", "--data", dataPath, "--out", out, "--no-progress", "--posterior", family,
                "--hidden", "6", "--latent", "2", "--batch", "8", "--epochs", "1",
            ], environment: childEnvironment())
            XCTAssertEqual(result.status, 0, result.standardError)
            XCTAssertTrue(result.standardOutput.contains("\(family) posterior, bernoulli likelihood, estimator \(estimator)"),
                          result.standardOutput)
            let config = try JSONDecoder().decode(TrainingConfiguration.self,
                                                  from: Data(contentsOf: URL(fileURLWithPath: out + "/config.json")))
            XCTAssertEqual(config.posterior.rawValue, family)
            XCTAssertEqual(config.estimator.rawValue, estimator)
        }
    }
}
