import Foundation
import XCTest
import VAETestSupport
@testable import VAEIO

final class PrepareTests: XCTestCase {
    var directory = ""
    override func setUpWithError() throws { directory = try makeScratchDirectory(self) }

    func makeIDX(rows: Int, height: Int = 2, width: Int = 3) throws -> (images: String, labels: String, pixels: [UInt8]) {
        let pixels = (0..<(rows * height * width)).map { UInt8(($0 * 11) % 256) }
        let images = directory + "/images-idx3-ubyte"
        let labels = directory + "/labels-idx1-ubyte"
        try writeFile(images, idxBytes(type: 0x08, dimensions: [rows, height, width], payload: pixels))
        try writeFile(labels, idxBytes(type: 0x08, dimensions: [rows], payload: (0..<rows).map { UInt8($0 % 10) }))
        return (images, labels, pixels)
    }

    func testIDXRawAndGzipGiveTheSameFile() throws {
        let idx = try makeIDX(rows: 5)
        let raw = try DataPreparation.prepareIDX(images: idx.images, labels: idx.labels, output: directory + "/raw.h5")
        let compressed = try DataPreparation.prepareIDX(images: try gzip(idx.images), labels: try gzip(idx.labels),
                                                        output: directory + "/gz.h5")
        XCTAssertEqual(raw.fingerprint, compressed.fingerprint)
        let data = try DataFile.open(directory + "/gz.h5")
        XCTAssertEqual([data.rowCount, data.featureCount], [5, 6])
        XCTAssertEqual(data.featureType, .uint8)
        XCTAssertEqual(data.scale, 1.0 / 255.0)
        XCTAssertEqual(try data.readLabels(), [0, 1, 2, 3, 4])
        XCTAssertEqual(data.storedFingerprint, raw.fingerprint)
        XCTAssertEqual(try data.computeFingerprint(), raw.fingerprint, "the stored fingerprint is the content's")
        let root = try HDF5File.open(data.path).root()
        XCTAssertEqual(try root.stringAttribute("format"), "vae-dist-data")
        XCTAssertEqual(try root.intAttribute("format_version"), 2)
        XCTAssertTrue(try root.stringAttribute("source")!.hasPrefix("idx: "))
        XCTAssertEqual(try root.openDataset("features").read(as: UInt8.self), idx.pixels)
        XCTAssertEqual(try root.openDataset("features").filters(), ["gzip(4)"])
    }

    func testIDXErrorsNameTheFile() throws {
        let idx = try makeIDX(rows: 5)
        let truncated = directory + "/truncated-idx3"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: idx.images))
        try bytes.prefix(bytes.count - 4).write(to: URL(fileURLWithPath: truncated))
        assertThrows(try DataPreparation.prepareIDX(images: truncated, labels: nil, output: directory + "/t.h5"),
                     containing: [truncated, "is truncated", "the header declares 5"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/t.h5"), "no half file under the final name")
        let fewLabels = directory + "/few-labels"
        try writeFile(fewLabels, idxBytes(type: 0x08, dimensions: [4], payload: [0, 1, 2, 3]))
        assertThrows(try DataPreparation.prepareIDX(images: idx.images, labels: fewLabels, output: directory + "/l.h5"),
                     containing: [fewLabels, "4 labels", "one per image (5)"])
        assertThrows(try DataPreparation.prepareIDX(images: directory + "/nothing", labels: nil, output: directory + "/n.h5"),
                     containing: ["nothing", "no such file"])
        let csvAsIDX = directory + "/data.csv"
        try writeFile(csvAsIDX, Array("1,2,3\n".utf8))
        assertThrows(try DataPreparation.prepareIDX(images: csvAsIDX, labels: nil, output: directory + "/c.h5"),
                     containing: [csvAsIDX, "is not an IDX file"])
    }

    func testRealFashionMNIST() throws {
        let source = DefaultData.fashionMNISTSourceDirectory
        _ = try Prerequisites.file(source + "/train-images-idx3-ubyte.gz", package: "dataset-fashion-mnist",
                                   for: "preparing the real Fashion-MNIST")
        var messages: [String] = []
        let paths = try DefaultData.ensureFashionMNIST(dataDirectory: directory + "/data") { messages.append($0) }
        XCTAssertTrue(messages.first?.contains("default data absent: preparing") ?? false, "\(messages)")
        let train = try DataFile.open(paths.train)
        let test = try DataFile.open(paths.test)
        XCTAssertEqual([train.rowCount, train.featureCount, test.rowCount, test.featureCount], [60000, 784, 10000, 784])
        XCTAssertEqual(Set(try train.readLabels()), Set(0...9))
        XCTAssertEqual(Set(try test.readLabels()), Set(0...9))
        // Each class has 6000 training images (the dataset's documented balance).
        XCTAssertEqual(try train.readLabels().filter { $0 == 3 }.count, 6000)
        // Second call: files exist, nothing is prepared again.
        messages.removeAll()
        XCTAssertEqual(try DefaultData.ensureFashionMNIST(dataDirectory: directory + "/data") { messages.append($0) }, paths)
        XCTAssertEqual(messages, [])
    }

    func testCSVWithHeaderAndNamedLabelColumn() throws {
        let input = directory + "/table.csv"
        try writeFile(input, Array("a, label ,b\n0.5,1,-2\n\n1e-3,0,3.25\r\n7,2,8\n".utf8))
        let summary = try DataPreparation.prepareCSV(input, output: directory + "/csv.h5", labelColumn: .name("label"))
        XCTAssertEqual([summary.rows, summary.features], [3, 2])
        let data = try DataFile.open(directory + "/csv.h5")
        XCTAssertEqual(data.featureType, .float32)
        XCTAssertEqual(try data.readLabels(), [1, 0, 2])
        XCTAssertEqual(try HDF5File.open(data.path).root().openDataset("features").read(as: Float.self), [0.5, -2, 1e-3, 3.25, 7, 8])
    }

    func testCSVWithoutHeaderLastColumnLabels() throws {
        let input = directory + "/plain.csv"
        try writeFile(input, Array("1,2,3\n4,5,6".utf8))
        _ = try DataPreparation.prepareCSV(input, output: directory + "/plain.h5", labelColumn: .index(-1))
        let data = try DataFile.open(directory + "/plain.h5")
        XCTAssertEqual(try data.readLabels(), [3, 6])
        XCTAssertEqual(try HDF5File.open(data.path).root().openDataset("features").read(as: Float.self), [1, 2, 4, 5])
        _ = try DataPreparation.prepareCSV(try gzip(input), output: directory + "/nolabels.h5")
        XCTAssertFalse(try DataFile.open(directory + "/nolabels.h5").hasLabels)
        XCTAssertEqual(try DataFile.open(directory + "/nolabels.h5").featureCount, 3)
    }

    func testCSVErrorsNameTheLine() throws {
        let ragged = directory + "/ragged.csv"
        try writeFile(ragged, Array("1,2\n3,4\n5\n".utf8))
        assertThrows(try DataPreparation.prepareCSV(ragged, output: directory + "/r.h5"),
                     containing: [ragged, "line 3", "1 fields, expected 2"])
        let nan = directory + "/nan.csv"
        try writeFile(nan, Array("1,2\n3,nan\n".utf8))
        assertThrows(try DataPreparation.prepareCSV(nan, output: directory + "/n.h5"),
                     containing: [nan, "line 2, column 1", "'nan' is not a finite number"])
        let badLabel = directory + "/label.csv"
        try writeFile(badLabel, Array("1,2.5\n".utf8))
        assertThrows(try DataPreparation.prepareCSV(badLabel, output: directory + "/b.h5", labelColumn: .index(1)),
                     containing: [badLabel, "label '2.5' is not an integer"])
    }

    func testNPYUint8ImagesKeepTheirOrderAsOneChannel() throws {
        let pixels = (0..<(4 * 2 * 3)).map { UInt8($0 * 10) }
        let input = directory + "/x.npy"
        try writeFile(input, npyBytes(descr: "|u1", shape: [4, 2, 3], payload: pixels))
        let labels = directory + "/y.npy"
        let labelValues: [Int64] = [-1, 0, 5, 1 << 40]
        try writeFile(labels, npyBytes(descr: "<i8", shape: [4], payload: labelValues.withUnsafeBytes { Array($0) }))
        _ = try DataPreparation.prepareNPY(input, labels: labels, output: directory + "/npy.h5", scale: 0.001)
        let data = try DataFile.open(directory + "/npy.h5")
        XCTAssertEqual([data.rowCount, data.featureCount], [4, 6])
        XCTAssertEqual(data.scale, 0.001)
        XCTAssertEqual(try data.readLabels(), labelValues.map { Int($0) })
        XCTAssertEqual(try HDF5File.open(data.path).root().openDataset("features").read(as: UInt8.self), pixels)
    }

    func testNPYFloat32AndItsErrors() throws {
        let values: [Float] = [0.25, -1, 3, 4.5, 5, 6]
        let input = directory + "/f.npy"
        try writeFile(input, npyBytes(descr: "<f4", shape: [3, 2], payload: floatBytes(values)))
        _ = try DataPreparation.prepareNPY(input, output: directory + "/f.h5", gzipLevel: nil)
        let features = try HDF5File.open(directory + "/f.h5").root().openDataset("features")
        XCTAssertEqual(try features.read(as: Float.self), values)
        XCTAssertEqual(try features.filters(), [])

        let int32 = directory + "/i.npy"
        try writeFile(int32, npyBytes(descr: "<i4", shape: [1, 1], payload: [UInt8](repeating: 0, count: 4)))
        assertThrows(try DataPreparation.prepareNPY(int32, output: directory + "/i.h5"), containing: [int32, "dtype '<i4'", "float64 ('<f8')"])
        let fortran = directory + "/fortran.npy"
        try writeFile(fortran, npyBytes(descr: "<f4", shape: [3, 2], payload: floatBytes(values), fortran: true))
        assertThrows(try DataPreparation.prepareNPY(fortran, output: directory + "/o.h5"), containing: [fortran, "Fortran order"])
        let nan = directory + "/nan.npy"
        try writeFile(nan, npyBytes(descr: "<f4", shape: [3, 2], payload: floatBytes([0, 0, 0, .infinity, 0, 0])))
        assertThrows(try DataPreparation.prepareNPY(nan, output: directory + "/nan.h5"), containing: [nan, "row 1", "value [1] of the row", "inf is not a finite number"])
        let short = directory + "/short.npy"
        try writeFile(short, npyBytes(descr: "<f4", shape: [3, 2], payload: floatBytes([0, 1, 2])))
        assertThrows(try DataPreparation.prepareNPY(short, output: directory + "/s.h5"), containing: [short, "is truncated"])
    }
}
