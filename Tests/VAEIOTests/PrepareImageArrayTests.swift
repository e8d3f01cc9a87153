import Foundation
import XCTest
import VAETestSupport
@testable import VAEIO

/// `prepare npy` and `prepare hdf5`: images [N, H, W], [N, C, H, W] and [N, H, W, C] become
/// rows [C, H, W] with `image_shape` recorded; float64 becomes float32.
final class PrepareImageArrayTests: XCTestCase {
    var directory = ""
    override func setUpWithError() throws { directory = try makeScratchDirectory(self) }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    /// Value (n, c, y, x) of the test images, the same whatever the layout they are written in.
    private func pixel(_ n: Int, _ c: Int, _ y: Int, _ x: Int) -> Int { (n * 7 + c * 50 + y * 10 + x) % 256 }

    /// Images [N, C, H, W] flattened in `channelsLast` ([N, H, W, C]) or channels-first order.
    private func images(n: Int, c: Int, h: Int, w: Int, channelsLast: Bool) -> [Int] {
        var values: [Int] = []
        for image in 0..<n {
            if channelsLast {
                for y in 0..<h { for x in 0..<w { for channel in 0..<c { values.append(pixel(image, channel, y, x)) } } }
            } else {
                for channel in 0..<c { for y in 0..<h { for x in 0..<w { values.append(pixel(image, channel, y, x)) } } }
            }
        }
        return values
    }

    private func stored(_ path: String) throws -> (features: [Float], shape: [Int]?, format: Int?) {
        let root = try HDF5File.open(path).root()
        let data = try DataFile.open(path)
        let values: [Float] = data.featureType == .uint8
            ? try root.openDataset("features").read(as: UInt8.self).map { Float($0) }
            : try root.openDataset("features").read(as: Float.self)
        return (values, try root.intArrayAttribute("image_shape"), try root.intAttribute("format_version"))
    }

    func testChannelsLastNPYIsStoredChannelsFirst() throws {
        let input = directory + "/hwc.npy"
        try writeFile(input, npyBytes(descr: "|u1", shape: [2, 4, 5, 3],
                                      payload: images(n: 2, c: 3, h: 4, w: 5, channelsLast: true).map { UInt8($0) }))
        let summary = try DataPreparation.prepareNPY(input, output: directory + "/hwc.h5")
        XCTAssertTrue(summary.description.contains("[N, H, W, C] = [2, 4, 5, 3]"), summary.description)
        let result = try stored(directory + "/hwc.h5")
        XCTAssertEqual(result.shape, [3, 4, 5])
        XCTAssertEqual(result.format, 2)
        XCTAssertEqual(result.features, images(n: 2, c: 3, h: 4, w: 5, channelsLast: false).map { Float($0) })
        XCTAssertEqual(try DataFile.open(directory + "/hwc.h5").imageShape, ImageShape(height: 4, width: 5, channels: 3))
    }

    func testChannelsFirstNPYIsStoredAsItIs() throws {
        let input = directory + "/chw.npy"
        let values = images(n: 3, c: 2, h: 5, w: 4, channelsLast: false).map { Float($0) / 255 }
        try writeFile(input, npyBytes(descr: "<f4", shape: [3, 2, 5, 4], payload: floatBytes(values)))
        _ = try DataPreparation.prepareNPY(input, output: directory + "/chw.h5")
        let result = try stored(directory + "/chw.h5")
        XCTAssertEqual(result.shape, [2, 5, 4])
        XCTAssertEqual(result.features, values)
    }

    func testAmbiguousChannelsAskForTheLayout() throws {
        // [1, 3, 4, 3]: 3 channels of 4x3, or 3x4 pixels of 3 channels.
        let input = directory + "/square.npy"
        let values = images(n: 1, c: 3, h: 3, w: 4, channelsLast: true)
        try writeFile(input, npyBytes(descr: "|u1", shape: [1, 3, 4, 3], payload: values.map { UInt8($0) }))
        assertThrows(try DataPreparation.prepareNPY(input, output: directory + "/a.h5"),
                     containing: [input, "[1, 3, 4, 3]", "--layout nchw", "--layout nhwc"])
        _ = try DataPreparation.prepareNPY(input, output: directory + "/a.h5", layout: .nhwc)
        let result = try stored(directory + "/a.h5")
        XCTAssertEqual(result.shape, [3, 3, 4])
        XCTAssertEqual(result.features, images(n: 1, c: 3, h: 3, w: 4, channelsLast: false).map { Float($0) })
        // --layout nchw stores the same bytes as they are, as 3 channels of 4x3.
        _ = try DataPreparation.prepareNPY(input, output: directory + "/b.h5", layout: .nchw)
        XCTAssertEqual(try stored(directory + "/b.h5").shape, [3, 4, 3])
        XCTAssertEqual(try stored(directory + "/b.h5").features, values.map { Float($0) })
    }

    func testFloat64NPYBecomesFloat32AndOutOfRangeValuesAreNamed() throws {
        let values: [Double] = [0.1, 0.25, -3, 1e-3, 2, 0.5]
        let input = directory + "/d.npy"
        try writeFile(input, npyBytes(descr: "<f8", shape: [3, 2], payload: values.withUnsafeBytes { Array($0) }))
        let summary = try DataPreparation.prepareNPY(input, output: directory + "/d.h5")
        XCTAssertEqual(summary.featureType, .float32)
        XCTAssertEqual(try stored(directory + "/d.h5").features, values.map { Float($0) })
        XCTAssertNil(try stored(directory + "/d.h5").shape, "[N, D] rows are not images")

        let huge = directory + "/huge.npy"
        let hugeValues: [Double] = [0, 0, 0, 0, 0, 0, 0, 1e300]
        try writeFile(huge, npyBytes(descr: "<f8", shape: [2, 2, 2], payload: hugeValues.withUnsafeBytes { Array($0) }))
        assertThrows(try DataPreparation.prepareNPY(huge, output: directory + "/h.h5"),
                     containing: [huge, "row 1", "value [1, 1] of the row", "1e+300 is beyond float32's range"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/h.h5"))
    }

    /// What h5py writes by default: float64 [N, H, W, C], int64 labels, string attributes.
    func testHDF5FileOfFloat64ImagesWithLabelNames() throws {
        let input = directory + "/mine.h5"
        let values = images(n: 2, c: 3, h: 4, w: 5, channelsLast: true).map { Double($0) / 255 }
        let file = try HDF5File.create(input)
        try file.root().writeDataset("x", values, shape: [2, 4, 5, 3])
        try file.root().writeDataset("y", [Int64(4), 2], shape: [2])
        try file.root().setAttribute("label_names", ["a", "b", "c", "d", "e"])
        try file.close()

        assertThrows(try DataPreparation.prepareHDF5(input, output: directory + "/o.h5"),
                     containing: [input, "no dataset 'features'", "/x [2, 4, 5, 3] float64", "/y [2] int64", "--features"])
        _ = try DataPreparation.prepareHDF5(input, features: "x", labels: "y", output: directory + "/o.h5")
        let result = try stored(directory + "/o.h5")
        XCTAssertEqual(result.shape, [3, 4, 5])
        XCTAssertEqual(result.features, images(n: 2, c: 3, h: 4, w: 5, channelsLast: false).map { Float(Double($0) / 255) })
        let data = try DataFile.open(directory + "/o.h5")
        XCTAssertEqual(try data.readLabels(), [4, 2])
        XCTAssertEqual(try data.readLabelNames(), ["a", "b", "c", "d", "e"])
        XCTAssertEqual(data.storedFingerprint, try data.computeFingerprint())
    }

    /// Training refuses what it cannot read as it is, and says which command converts it.
    func testTrainingReadsOfUnconvertedArraysNameTheConverter() throws {
        let float64 = directory + "/f64.h5"
        var file = try HDF5File.create(float64)
        try file.root().writeDataset("features", [Double](repeating: 0.5, count: 8), shape: [2, 4])
        try file.close()
        assertThrows(try DataFile.open(float64), containing: [float64, "dtype float64", "vae-dist prepare hdf5 \(float64) --out OUT.h5"])
        let images = directory + "/images.h5"
        file = try HDF5File.create(images)
        try file.root().writeDataset("features", [Float](repeating: 0.5, count: 8), shape: [2, 2, 2])
        try file.close()
        assertThrows(try DataFile.open(images), containing: [images, "rank 3", "vae-dist prepare hdf5"])
    }

    func testH5pyReadsTheStoredLayout() throws {
        let input = directory + "/hwc.npy"
        try writeFile(input, npyBytes(descr: "|u1", shape: [2, 4, 5, 3],
                                      payload: images(n: 2, c: 3, h: 4, w: 5, channelsLast: true).map { UInt8($0) }))
        _ = try DataPreparation.prepareNPY(input, output: directory + "/hwc.h5")
        // The documented way back to images: reshape rows to image_shape; numpy's own transpose agrees.
        let script = """
            import h5py, numpy as np, sys
            f = h5py.File(sys.argv[1] + "/hwc.h5", "r")
            x = f["features"][:].reshape(-1, *f.attrs["image_shape"])
            original = np.load(sys.argv[1] + "/hwc.npy")
            print(x.shape, bool((x == original.transpose(0, 3, 1, 2)).all()))
            """
        let result = try Prerequisites.runPython(["-c", script, directory], modules: ["h5py", "numpy"],
                                                 for: "the h5py view of converted images")
        XCTAssertEqual(result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines), "(2, 3, 4, 5) True", result.standardError)
    }
}
