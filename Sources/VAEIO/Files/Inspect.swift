import Foundation
import VAECore

/// A readable listing of any HDF5 file: every group and dataset with its
/// shape, dtype, storage and attributes (long strings such as JSON configs cut).
public func describeHDF5File(_ path: String, maxAttributeCharacters: Int = 120) throws -> String {
    let verdict = try DataFile.checkReadableHDF5(path, kind: "file")
    let file = try HDF5File.open(path)
    let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
    var lines = ["\(path)" + (size.map { " (\(formatByteCount($0)))" } ?? "")]
    switch verdict {
    case .verified(let header)?:
        lines.append("  checksum crc32 \(header.checksumHex) of the \(header.coveredByteCount) bytes after the "
                     + "\(ChecksumHeader.size)-byte header: verified")
    case .absent?, nil:
        lines.append("  checksum none (not written by vae-dist, or by a vae-dist before checksums): not verified")
    }

    func attributes(of object: HDF5Object, indent: String) throws {
        for name in try object.attributeNames() {
            let value = try object.attribute(name)
            lines.append("\(indent)@\(name) = \(value?.summary(maxCharacters: maxAttributeCharacters) ?? "?")")
        }
    }

    func visit(_ group: HDF5Group, depth: Int) throws {
        let indent = String(repeating: "  ", count: depth)
        lines.append("\(indent)\(group.path == "/" ? "/" : group.path + "/")")
        try attributes(of: group, indent: indent + "    ")
        for child in try group.children() {
            switch child.kind {
            case .group:
                try visit(try group.openGroup(child.name), depth: depth + 1)
            case .dataset:
                let dataset = try group.openDataset(child.name)
                var line = "\(indent)  \(dataset.path)  \(try dataset.elementType()) \(try dataset.shape())"
                if let chunks = try dataset.chunkShape() { line += "  chunks \(chunks)" }
                let filters = try dataset.filters()
                if !filters.isEmpty { line += "  " + filters.joined(separator: ", ") }
                lines.append(line)
                try attributes(of: dataset, indent: indent + "      ")
            case .other:
                lines.append("\(indent)  \(HDF5Object.join(group.path, child.name))  (link to a named datatype or a missing object)")
            }
        }
    }

    try visit(try file.root(), depth: 0)
    return lines.joined(separator: "\n")
}
