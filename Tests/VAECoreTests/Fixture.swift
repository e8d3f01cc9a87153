import Foundation
import XCTest
@testable import VAECore

/// A fixture written by scripts/reference/make_fixtures.py: a JSON manifest
/// and the float32 tensors it indexes in data.bin.
struct Fixture {
    let manifest: [String: Any]
    let config: [String: Any]
    private let values: [Float]
    private let tensors: [String: (shape: [Int], offset: Int, count: Int)]

    static var directory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures")
    }

    init(_ name: String) throws {
        let folder = Self.directory.appendingPathComponent(name)
        let manifestData = try Data(contentsOf: folder.appendingPathComponent("manifest.json"))
        manifest = try XCTUnwrap(JSONSerialization.jsonObject(with: manifestData) as? [String: Any])
        config = manifest["config"] as? [String: Any] ?? [:]
        let raw = try Data(contentsOf: folder.appendingPathComponent("data.bin"))
        values = raw.withUnsafeBytes { bytes in
            (0..<raw.count / 4).map { Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
        var tensors: [String: (shape: [Int], offset: Int, count: Int)] = [:]
        for (name, entry) in manifest["tensors"] as? [String: [String: Any]] ?? [:] {
            tensors[name] = (entry["shape"] as! [Int], entry["offset"] as! Int, entry["count"] as! Int)
        }
        self.tensors = tensors
    }

    func tensor(_ name: String) throws -> [Float] {
        let entry = try XCTUnwrap(tensors[name], "fixture has no tensor \(name)")
        return Array(values[entry.offset..<entry.offset + entry.count])
    }

    func int(_ key: String) -> Int { config[key] as! Int }
    func float(_ key: String) -> Float { Float(config[key] as! Double) }
    func string(_ key: String) -> String { config[key] as! String }

    /// Cases with "conv_channels" are convolutional models of their "image" [C, H, W].
    var architecture: ModelArchitecture {
        let convolution = (config["conv_channels"] as? [Int]).map {
            ConvolutionalShape(channels: $0, kernel: int("kernel"), stride: int("stride"),
                               imageShape: config["image"] as? [Int])
        }
        return ModelArchitecture(dataDimension: int("data_dim"), hiddenSizes: config["hidden"] as! [Int],
                                 latentDimension: int("latent"), activation: Activation(rawValue: string("activation"))!,
                                 learnedVarianceFloor: (config["variance_floor"] as? Double).map(Float.init),
                                 convolution: convolution)
    }

    /// Cases written before the families existed carry no "posterior": they are Gaussian.
    var posterior: PosteriorKind { PosteriorKind(rawValue: config["posterior"] as? String ?? "gaussian")! }

    var settings: ObjectiveSettings {
        let likelihood: any Likelihood = string("likelihood") == "bernoulli"
            ? BernoulliLikelihood() : GaussianLikelihood(variance: float("gaussian_variance"))
        return ObjectiveSettings(likelihood: likelihood, posterior: posterior.family,
                                 estimator: Estimator(rawValue: string("estimator"))!, samples: int("samples"))
    }
}

/// Asserts |actual - expected| <= relative * |expected| + absolute, element by element,
/// and returns the largest relative error seen (for the failure message and reports).
@discardableResult
func assertClose(_ actual: [Float], _ expected: [Float], relative: Float, absolute: Float = 0,
                 _ name: String, file: StaticString = #filePath, line: UInt = #line) -> Float {
    XCTAssertEqual(actual.count, expected.count, "\(name): length", file: file, line: line)
    var worst: Float = 0
    for (i, (a, e)) in zip(actual, expected).enumerated() {
        let error = abs(a - e)
        worst = max(worst, error / max(abs(e), .leastNormalMagnitude))
        if error > relative * abs(e) + absolute {
            XCTFail("\(name)[\(i)]: \(a) vs reference \(e)", file: file, line: line)
            return worst
        }
    }
    return worst
}
