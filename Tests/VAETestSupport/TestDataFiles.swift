import Foundation
import VAEIO
import XCTest

// Input files as users and other programs write them: HDF5 data files without vae-dist's
// checksum header (as h5py writes them), NPY and IDX files, gzip-compressed copies.

/// A uint8 data file written directly through the wrapper, like a user with h5py:
/// `/features` [rows, features] with its `scale` attribute, optional int64 `/labels`.
public func writeDataFile(_ path: String, uint8 values: [UInt8], rows: Int, features: Int, scale: Double? = 1.0 / 255.0,
                          labels: [Int64]? = nil, chunkRows: Int? = nil, gzip: Int? = nil) throws {
    let file = try HDF5File.create(path)
    let root = try file.root()
    let dataset = try root.writeDataset("features", values, shape: [rows, features],
                                        chunks: chunkRows.map { [$0, features] }, gzipLevel: gzip)
    if let scale { try dataset.setAttribute("scale", scale) }
    if let labels { try root.writeDataset("labels", labels, shape: [labels.count]) }
    try file.close()
}

/// A float32 data file, like a user with h5py: `/features` [rows, features], optional `/labels`.
public func writeDataFile(_ path: String, float32 values: [Float], rows: Int, features: Int, labels: [Int64]? = nil,
                          chunkRows: Int? = nil, gzip: Int? = nil) throws {
    let file = try HDF5File.create(path)
    let root = try file.root()
    try root.writeDataset("features", values, shape: [rows, features], chunks: chunkRows.map { [$0, features] }, gzipLevel: gzip)
    if let labels { try root.writeDataset("labels", labels, shape: [labels.count]) }
    try file.close()
}

/// The training tests' float32 file: chunked by `chunkRows` rows and gzipped (so one
/// corrupt chunk fails one read), no checksum header.
public func writeDataFile(_ path: String, features: [Float], rows: Int, chunkRows: Int = 4) throws {
    try writeDataFile(path, float32: features, rows: rows, features: features.count / rows, chunkRows: chunkRows, gzip: 1)
}

/// /features float32 [N, D] and /labels int32 [N], written atomically with vae-dist's checksum header.
public func writeLabelledDataFile(_ path: String, features: [Float], labels: [Int32]) throws {
    try writeHDF5FileAtomically(to: path) { file in
        let root = try file.root()
        try root.writeDataset("features", features, shape: [labels.count, features.count / labels.count],
                              chunks: [4, features.count / labels.count], gzipLevel: 1)
        try root.writeDataset("labels", labels, shape: [labels.count])
    }
}

/// A dataset's values, read whole.
public func readDataset<T: HDF5Element>(_ path: String, _ name: String, as type: T.Type = T.self) throws -> [T] {
    try HDF5File.open(path).root().openDataset(name).read(as: T.self)
}

/// Deterministic features in [0, 1], quantised like images.
public func syntheticFeatures(rows: Int, features: Int, seed: UInt64) -> [Float] {
    var state = seed
    return (0..<rows * features).map { _ in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(state >> 56) / 255
    }
}

public func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// An IDX file: 00 00 <type> <rank>, big-endian u32 dimensions, the values.
public func idxBytes(type: UInt8, dimensions: [Int], payload: [UInt8]) -> [UInt8] {
    var bytes: [UInt8] = [0, 0, type, UInt8(dimensions.count)]
    for dimension in dimensions {
        bytes += [24, 16, 8, 0].map { UInt8((dimension >> $0) & 0xFF) }
    }
    return bytes + payload
}

/// An NPY version 1.0 file, as numpy.save writes it (`|u1` for uint8, `<f4` for float32).
public func npyBytes(descr: String, shape: [Int], payload: [UInt8], fortran: Bool = false) -> [UInt8] {
    let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    var header = "{'descr': '\(descr)', 'fortran_order': \(fortran ? "True" : "False"), 'shape': \(shapeText), }"
    while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
    header += "\n"
    let length = header.utf8.count
    return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(length & 0xFF), UInt8(length >> 8)] + Array(header.utf8) + payload
}

public func floatBytes(_ values: [Float]) -> [UInt8] {
    values.withUnsafeBytes { Array($0) }
}

/// `gzip -kf path`: returns the compressed copy's path.
public func gzip(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
    let result = try runProcess(try Prerequisites.tool("gzip", package: "gzip", for: "gzip input"), ["-kf", path])
    assertSucceeded(result, file: file, line: line)
    return path + ".gz"
}

/// A data file as `vae-dist prepare` writes it (with its checksum header): 37 x 10
/// uint8 pixels from an NPY file, in `directory`/prepared.h5. Returns its path.
public func writePreparedDataFile(in directory: String, seed: UInt64) throws -> String {
    let npy = directory + "/source.npy"
    let pixels = syntheticFeatures(rows: 37, features: 10, seed: seed).map { UInt8($0 * 255) }
    try writeFile(npy, npyBytes(descr: "|u1", shape: [37, 10], payload: pixels))
    let prepared = directory + "/prepared.h5"
    _ = try DataPreparation.prepareNPY(npy, output: prepared)
    return prepared
}
