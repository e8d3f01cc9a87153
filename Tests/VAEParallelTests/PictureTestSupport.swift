import Foundation
import XCTest
import VAECore
import VAEIO

/// The repository root (this file is Tests/VAEParallelTests/PictureTestSupport.swift).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// python3 from PATH, run with `arguments`.
func runPython(_ arguments: [String], timeout: Double = 120, file: StaticString = #filePath, line: UInt = #line) throws -> ProcessResult {
    try runProcess(URL(fileURLWithPath: "/usr/bin/env"), ["python3"] + arguments, environment: childEnvironment(),
                   timeout: timeout, file: file, line: line)
}

/// Skips the test, saying what is missing, unless python3 imports every module.
func requirePython(_ modules: [String], for purpose: String) throws {
    let result = try? runPython(["-c", "import " + modules.joined(separator: ", ")])
    guard result?.status == 0 else {
        throw XCTSkip("python3 with \(modules.joined(separator: " and ")) is not available (python3 -m pip install "
                      + "\(modules.joined(separator: " "))): \(purpose) not checked")
    }
}

/// A PNG as scripts/check_png.py (Python's zlib, independent of PNGEncoder) decodes it.
struct DecodedPNG: Decodable {
    let width: Int
    let height: Int
    let color_type: Int
    let channels: Int
    let pixels: [UInt8]?

    /// The gray value at (y, x).
    func gray(_ y: Int, _ x: Int) -> UInt8 { pixels![(y * width + x) * channels] }
}

/// Without `pixels` only the structure is checked (the pure-Python unfiltering is slow for large images).
func decodePNG(_ path: String, pixels: Bool = true, file: StaticString = #filePath, line: UInt = #line) throws -> DecodedPNG {
    try requirePython(["zlib"], for: "PNG decoding")
    let result = try runPython([repositoryRoot + "/scripts/check_png.py", path] + (pixels ? ["--pixels"] : []), file: file, line: line)
    XCTAssertEqual(result.status, 0, "check_png.py rejected \(path): \(result.standardError)", file: file, line: line)
    return try JSONDecoder().decode(DecodedPNG.self, from: Data(result.standardOutput.utf8))
}

/// What a pixel intensity becomes, written out independently of ImageGrid.byte.
func expectedByte(_ value: Float) -> UInt8 {
    UInt8(min(max((Double(value) * 255).rounded(.toNearestOrAwayFromZero), 0), 255))
}

/// Runs the vae-dist binary as one plain process.
func runVAEDist(_ arguments: [String], environment extra: [String: String] = [:],
                file: StaticString = #filePath, line: UInt = #line) throws -> ProcessResult {
    try runProcess(try vaeDistBinary(), arguments, environment: childEnvironment(extra), timeout: 120, file: file, line: line)
}

/// A small model over `features` values per row, trained for 2 epochs on synthetic [0, 1] data.
func trainPictureModel(in directory: String, features: Int = 16, latent: Int = 2, hidden: [Int] = [8],
                       activation: Activation = .relu, likelihood: LikelihoodKind = .bernoulli,
                       data: [Float]? = nil, name: String = "run") throws -> (run: String, data: String) {
    let rows = 40
    let dataPath = directory + "/\(name)-data.h5"
    try writeDataFile(dataPath, features: data ?? syntheticFeatures(rows: rows, features: features, seed: 5), rows: rows)
    var configuration = TrainingConfiguration(architecture: ModelArchitecture(
        dataDimension: features, hiddenSizes: hidden, latentDimension: latent, activation: activation))
    configuration.likelihood = likelihood
    configuration.globalBatch = 8
    configuration.epochs = 2
    configuration.learningRate = 0.01
    configuration.seed = 3
    let run = directory + "/" + name
    _ = try trainInProcess(configuration, data: dataPath, out: run)
    return (run, dataPath)
}
