import Foundation
import XCTest
@testable import VAEIO

/// A fresh directory per test, removed afterwards.
func makeTemporaryDirectory(_ testName: String = #function) throws -> String {
    let name = testName.filter { $0.isLetter || $0.isNumber }
    let path = NSTemporaryDirectory() + "vae-dist-io-\(name)-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

struct ProcessResult {
    let status: Int32
    let stdout: String
    let stderr: String
}

/// Runs a program, capturing its output (small outputs only: pipes are read at exit).
@discardableResult
func runProcess(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
         currentDirectory: String? = nil) throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return ProcessResult(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData, as: UTF8.self))
}

/// The built `vae-dist` binary: next to the test bundle (swift build puts
/// products and test bundles in the same directory).
func vaeDistBinary() throws -> String {
    var candidates: [URL] = [Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent()]
    candidates += Bundle.allBundles.map { $0.bundleURL.deletingLastPathComponent() }
    if let argument = CommandLine.arguments.first {
        candidates.append(URL(fileURLWithPath: argument).deletingLastPathComponent())
    }
    for directory in candidates {
        let path = directory.appendingPathComponent("vae-dist").path
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    throw XCTSkip("vae-dist binary not found next to the test bundle (looked in \(candidates.map(\.path)))")
}

/// Whether python3 can import h5py (tests print when they skip for lack of it).
let h5pyAvailable: Bool = {
    (try? runProcess("/usr/bin/env", ["python3", "-c", "import h5py"]).status) == 0
}()

func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// An IDX file: 00 00 <type> <rank>, big-endian u32 dimensions, the values.
func idxBytes(type: UInt8, dimensions: [Int], payload: [UInt8]) -> [UInt8] {
    var bytes: [UInt8] = [0, 0, type, UInt8(dimensions.count)]
    for dimension in dimensions {
        bytes += [24, 16, 8, 0].map { UInt8((dimension >> $0) & 0xFF) }
    }
    return bytes + payload
}

/// An NPY version 1.0 file.
func npyBytes(descr: String, shape: [Int], payload: [UInt8], fortran: Bool = false) -> [UInt8] {
    let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    var header = "{'descr': '\(descr)', 'fortran_order': \(fortran ? "True" : "False"), 'shape': \(shapeText), }"
    while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
    header += "\n"
    let length = header.utf8.count
    return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(length & 0xFF), UInt8(length >> 8)] + Array(header.utf8) + payload
}

func floatBytes(_ values: [Float]) -> [UInt8] {
    values.withUnsafeBytes { Array($0) }
}

func gzip(_ path: String) throws -> String {
    let result = try runProcess("/usr/bin/env", ["gzip", "-kf", path])
    XCTAssertEqual(result.status, 0, result.stderr)
    return path + ".gz"
}

/// Writes a data file directly through the wrapper (like a user with h5py would).
func writeDataFile(_ path: String, uint8 values: [UInt8], rows: Int, features: Int, scale: Double? = 1.0 / 255.0,
                   labels: [Int64]? = nil, chunkRows: Int? = nil, gzip: Int? = nil) throws {
    let file = try HDF5File.create(path)
    let root = try file.root()
    let dataset = try root.writeDataset("features", values, shape: [rows, features],
                                        chunks: chunkRows.map { [$0, features] }, gzipLevel: gzip)
    if let scale { try dataset.setAttribute("scale", scale) }
    if let labels { try root.writeDataset("labels", labels, shape: [labels.count]) }
    try file.close()
}

func writeDataFile(_ path: String, float32 values: [Float], rows: Int, features: Int, labels: [Int64]? = nil,
                   chunkRows: Int? = nil, gzip: Int? = nil) throws {
    let file = try HDF5File.create(path)
    let root = try file.root()
    try root.writeDataset("features", values, shape: [rows, features], chunks: chunkRows.map { [$0, features] }, gzipLevel: gzip)
    if let labels { try root.writeDataset("labels", labels, shape: [labels.count]) }
    try file.close()
}

/// Asserts `body` throws an error whose description contains every fragment.
func assertThrows<T>(_ body: @autoclosure () throws -> T, containing fragments: [String],
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
