import Foundation
import XCTest
import VAETestSupport
@testable import VAEIO

/// Every input error: one line naming the file, the dataset (and row) and what was expected.
final class DataFileTests: XCTestCase {
    var directory = ""
    override func setUpWithError() throws { directory = try makeScratchDirectory(self) }

    func testAUserFileWithJustFeaturesAndScaleIsAccepted() throws {
        let path = directory + "/user.h5"
        try writeDataFile(path, uint8: [0, 51, 255, 102], rows: 2, features: 2, scale: 0.2 / 51, labels: [3, 4])
        let data = try DataFile.open(path)
        XCTAssertEqual(data.rowCount, 2)
        XCTAssertEqual(data.featureCount, 2)
        XCTAssertEqual(data.featureType, .uint8)
        XCTAssertEqual(data.scale, 0.2 / 51)
        XCTAssertTrue(data.hasLabels)
        XCTAssertEqual(try data.readLabels(), [3, 4])
        XCTAssertNil(data.storedFingerprint)
        // Computed when absent: FNV-1a 64 of the bytes then "uint8[2,2]".
        var expected = FNV1a64()
        [UInt8]([0, 51, 255, 102]).withUnsafeBytes { expected.update($0) }
        expected.update("uint8[2,2]")
        XCTAssertEqual(try data.fingerprint(), "fnv1a64:" + expected.hex)
    }

    func testScaleOnTheRootIsAcceptedForUint8() throws {
        let path = directory + "/root-scale.h5"
        let file = try HDF5File.create(path)
        try file.root().writeDataset("features", [UInt8](repeating: 1, count: 4), shape: [2, 2])
        try file.root().setAttribute("scale", 0.25)
        try file.close()
        XCTAssertEqual(try DataFile.open(path).scale, 0.25)
    }

    func testMissingFile() {
        assertThrows(try DataFile.open(directory + "/absent.h5"), containing: ["absent.h5", "no such file"])
    }

    func testNotAnHDF5File() throws {
        let path = directory + "/text.h5"
        try writeFile(path, Array("just,some,csv\n".utf8))
        assertThrows(try DataFile.open(path), containing: [path, "is not an HDF5 file"])
    }

    func testTruncatedFile() throws {
        let path = directory + "/full.h5"
        try writeDataFile(path, float32: [Float](repeating: 0.5, count: 64 * 100), rows: 100, features: 64)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let truncated = directory + "/truncated.h5"
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: truncated))
        assertThrows(try DataFile.open(truncated), containing: [truncated, "cannot open file", "truncated file"])
    }

    func testMissingFeatures() throws {
        let path = directory + "/nofeatures.h5"
        let file = try HDF5File.create(path)
        try file.root().writeDataset("images", [UInt8](repeating: 0, count: 4), shape: [2, 2])
        try file.close()
        assertThrows(try DataFile.open(path), containing: [path, "/features", "missing dataset", "uint8", "float32"])
    }

    func testWrongRank() throws {
        let path = directory + "/rank3.h5"
        let file = try HDF5File.create(path)
        try file.root().writeDataset("features", [Float](repeating: 0, count: 8), shape: [2, 2, 2])
        try file.close()
        assertThrows(try DataFile.open(path), containing: [path, "/features", "rank 3", "expected rank 2"])
    }

    func testWrongDtype() throws {
        let path = directory + "/float64.h5"
        let file = try HDF5File.create(path)
        try file.root().writeDataset("features", [Double](repeating: 0, count: 4), shape: [2, 2])
        try file.close()
        assertThrows(try DataFile.open(path), containing: [path, "/features", "dtype float64", "expected uint8", "or float32"])
    }

    func testUint8WithoutScale() throws {
        let path = directory + "/noscale.h5"
        try writeDataFile(path, uint8: [1, 2, 3, 4], rows: 2, features: 2, scale: nil)
        assertThrows(try DataFile.open(path), containing: [path, "/features", "no 'scale' attribute"])
    }

    func testEmptyDataset() throws {
        let path = directory + "/empty.h5"
        try writeDataFile(path, float32: [], rows: 0, features: 784)
        assertThrows(try DataFile.open(path), containing: [path, "/features", "is empty", "[0, 784]", "at least one row"])
    }

    func testLabelsLengthMismatch() throws {
        let path = directory + "/labels.h5"
        try writeDataFile(path, float32: [Float](repeating: 0, count: 6), rows: 3, features: 2, labels: [1, 2])
        assertThrows(try DataFile.open(path), containing: [path, "/labels", "2 labels", "one per row", "(3)"])
    }

    func testFloatLabelsAreRejected() throws {
        let path = directory + "/floatlabels.h5"
        let file = try HDF5File.create(path)
        try file.root().writeDataset("features", [Float](repeating: 0, count: 4), shape: [2, 2])
        try file.root().writeDataset("labels", [Float](repeating: 0, count: 2), shape: [2])
        try file.close()
        assertThrows(try DataFile.open(path), containing: [path, "/labels", "dtype float32", "integer"])
    }

    func testACheckpointIsNotData() throws {
        let path = directory + "/checkpoint.h5"
        let file = try HDF5File.create(path)
        try file.root().setAttribute("format", "vae-dist-checkpoint")
        try file.close()
        assertThrows(try DataFile.open(path), containing: [path, "'vae-dist-checkpoint' file", "expected a data file"])
    }

    func testNaNInFloatFeaturesNamesTheRow() throws {
        let path = directory + "/nan.h5"
        var values = [Float](repeating: 0.5, count: 5 * 3)
        values[3 * 3 + 1] = .nan
        try writeDataFile(path, float32: values, rows: 5, features: 3)
        let data = try DataFile.open(path)
        assertThrows(try InMemoryMinibatchSource(dataFile: data, bernoulli: false),
                     containing: [path, "/features", "row 3", "column 1 is nan", "finite"])
    }

    func testOutOfRangeForBernoulliNamesTheRow() throws {
        let path = directory + "/range.h5"
        var values = [Float](repeating: 0.5, count: 4 * 2)
        values[2 * 2] = 1.5
        try writeDataFile(path, float32: values, rows: 4, features: 2)
        let data = try DataFile.open(path)
        XCTAssertNoThrow(try InMemoryMinibatchSource(dataFile: data, bernoulli: false), "a Gaussian likelihood accepts 1.5")
        assertThrows(try InMemoryMinibatchSource(dataFile: data, bernoulli: true),
                     containing: [path, "/features", "row 2", "1.5", "Bernoulli", "[0, 1]"])
    }

    func testUint8ScaledAboveOneIsOutOfRangeForBernoulli() throws {
        let path = directory + "/u8range.h5"
        try writeDataFile(path, uint8: [0, 1, 2, 3, 4, 5], rows: 3, features: 2, scale: 0.25)  // 5 * 0.25 > 1
        let data = try DataFile.open(path)
        assertThrows(try InMemoryMinibatchSource(dataFile: data, bernoulli: true), containing: [path, "row 2", "column 1", "1.25"])
    }
}
