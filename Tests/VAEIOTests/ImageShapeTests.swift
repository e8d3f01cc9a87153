import Foundation
import XCTest
import VAETestSupport
@testable import VAEIO

final class ImageShapeTests: XCTestCase {
    func testParsingAcceptsHeightByWidthAndChannelsFirst() {
        XCTAssertEqual(ImageShape(parsing: "28x28"), ImageShape(height: 28, width: 28))
        XCTAssertEqual(ImageShape(parsing: "2X5"), ImageShape(height: 2, width: 5))
        XCTAssertEqual(ImageShape(parsing: "3x32x32"), ImageShape(height: 32, width: 32, channels: 3))
        XCTAssertEqual(ImageShape(parsing: "1x4x4"), ImageShape(height: 4, width: 4))
        XCTAssertEqual(ImageShape(parsing: "4x8x6"), ImageShape(height: 8, width: 6, channels: 4))
        for bad in ["28", "28x", "x28", "0x5", "-2x5", "0x3x3", "28*28", "axb", "1x2x3x4"] {
            XCTAssertNil(ImageShape(parsing: bad), bad)
        }
        XCTAssertEqual(ImageShape(height: 32, width: 30, channels: 3).dimensions, [3, 32, 30])
        XCTAssertEqual(ImageShape(height: 28, width: 28).dimensions, [1, 28, 28])
    }

    /// Data format_version 1 wrote [H, W, C]: read as [C, H, W] it would be another image.
    func testAChannelsLastShapeOfDataFormatVersionOneIsRefused() throws {
        let directory = try makeScratchDirectory(self)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/old.h5"
        try writeDataFile(path, uint8: [UInt8](repeating: 0, count: 12), rows: 1, features: 12)
        let file = try HDF5File.open(path, writable: true)
        try file.root().setAttribute("format", "vae-dist-data")
        try file.root().setAttribute("format_version", 1)
        try file.root().setAttribute(ImageShape.attributeName, [2, 2, 3])
        try file.close()
        assertThrows(try ImageShape.stored(in: path), containing: [path, "[2, 2, 3] is channels last", "prepare the data again"])
        XCTAssertNil(try DataFile.open(path).imageShape, "the data still trains; only pictures need the shape")
    }

    func testPicturesNeedOneOrThreeChannels() throws {
        assertThrows(try ImageShape.resolve(explicit: ImageShape(height: 2, width: 2, channels: 4), dataFile: nil, featureCount: 16),
                     containing: ["4x2x2 has 4 channels", "1 channel (grayscale) or 3 (RGB)"])
    }

    func testResolutionPrefersTheOptionThenTheFileThenASquare() throws {
        let directory = try makeScratchDirectory(self)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/d.h5"
        try writeDataFile(path, uint8: [UInt8](repeating: 0, count: 2 * 36), rows: 2, features: 36)
        XCTAssertEqual(try ImageShape.resolve(explicit: nil, dataFile: path, featureCount: 36), ImageShape(height: 6, width: 6))
        let file = try HDF5File.open(path, writable: true)
        try file.root().setAttribute(ImageShape.attributeName, [4, 9])
        try file.close()
        XCTAssertEqual(try ImageShape.resolve(explicit: nil, dataFile: path, featureCount: 36), ImageShape(height: 4, width: 9))
        XCTAssertEqual(try ImageShape.resolve(explicit: ImageShape(height: 3, width: 12), dataFile: path, featureCount: 36),
                       ImageShape(height: 3, width: 12))
        XCTAssertEqual(try ImageShape.resolve(explicit: nil, dataFile: nil, featureCount: 784), ImageShape(height: 28, width: 28))
    }

    func testShapesThatDoNotFitAreRefusedClearly() throws {
        assertThrows(try ImageShape.resolve(explicit: nil, dataFile: nil, featureCount: 10),
                     containing: ["rows of 10 values", "--image-shape"])
        assertThrows(try ImageShape.resolve(explicit: ImageShape(height: 3, width: 3), dataFile: nil, featureCount: 10),
                     containing: ["--image-shape 3x3", "9 values", "10"])
        let directory = try makeScratchDirectory(self)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/d.h5"
        try writeDataFile(path, uint8: [UInt8](repeating: 0, count: 12), rows: 1, features: 12)
        let file = try HDF5File.open(path, writable: true)
        try file.root().setAttribute(ImageShape.attributeName, [3, 2, 2])
        try file.close()
        assertThrows(try ImageShape.resolve(explicit: nil, dataFile: path, featureCount: 16),
                     containing: [path, "image_shape 3x2x2", "12 values", "16"])
    }

    func testPrepareIDXRecordsTheImageShape() throws {
        let directory = try makeScratchDirectory(self)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let images = directory + "/images-idx3-ubyte"
        try writeFile(images, idxBytes(type: 0x08, dimensions: [3, 4, 5], payload: [UInt8](repeating: 7, count: 60)))
        _ = try DataPreparation.prepareIDX(images: images, labels: nil, output: directory + "/out.h5")
        let root = try HDF5File.open(directory + "/out.h5").root()
        XCTAssertEqual(try root.intArrayAttribute("image_shape"), [1, 4, 5])
        XCTAssertEqual(try ImageShape.stored(in: directory + "/out.h5"), ImageShape(height: 4, width: 5))

        // A rank-2 IDX [N, D] has no image shape to record.
        let flat = directory + "/flat-idx2-ubyte"
        try writeFile(flat, idxBytes(type: 0x08, dimensions: [3, 20], payload: [UInt8](repeating: 7, count: 60)))
        _ = try DataPreparation.prepareIDX(images: flat, labels: nil, output: directory + "/flat.h5")
        XCTAssertNil(try HDF5File.open(directory + "/flat.h5").root().intArrayAttribute("image_shape"))
    }

    func testH5pyReadsTheImageShapeAsAnIntegerArray() throws {
        let directory = try makeScratchDirectory(self)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let images = directory + "/images-idx3-ubyte"
        try writeFile(images, idxBytes(type: 0x08, dimensions: [2, 3, 3], payload: [UInt8](repeating: 1, count: 18)))
        _ = try DataPreparation.prepareIDX(images: images, labels: nil, output: directory + "/out.h5")
        let result = try Prerequisites.runPython(["-c",
            "import h5py, sys; a = h5py.File(sys.argv[1])['/'].attrs['image_shape']; print(a.dtype.kind, a.tolist())", directory + "/out.h5"],
            modules: ["h5py"], for: "the h5py view of image_shape")
        XCTAssertEqual(result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines), "i [1, 3, 3]", result.standardError)
    }

    func testRunDirectoryMeansItsNewestEpochCheckpoint() throws {
        let directory = try makeScratchDirectory(self)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for name in ["checkpoint-epoch-0009.h5", "checkpoint-epoch-10000.h5", "checkpoint-epoch-0010.h5", "metrics.jsonl",
                     ".checkpoint-epoch-20000.h5.tmp-1-2"] {
            _ = FileManager.default.createFile(atPath: directory + "/" + name, contents: Data())
        }
        XCTAssertEqual(try CheckpointLocation.resolve(directory).path, directory + "/checkpoint-epoch-10000.h5")
        XCTAssertEqual(try CheckpointLocation.resolve(directory + "/metrics.jsonl").path, directory + "/metrics.jsonl")
        let empty = directory + "/empty"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: false)
        assertThrows(try CheckpointLocation.resolve(empty), containing: [empty, "checkpoint-epoch-"])
        assertThrows(try CheckpointLocation.resolve(directory + "/nope"), containing: ["nope", "no such checkpoint"])
    }
}
