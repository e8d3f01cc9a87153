import Foundation

/// The default training data: Fashion-MNIST from the Debian package
/// `dataset-fashion-mnist`, prepared into the data directory on first use.
public enum DefaultData {
    public static let fashionMNISTSourceDirectory = "/usr/share/datasets/fashion-mnist"
    public static let trainFileName = "fashion-mnist-train.h5"
    public static let testFileName = "fashion-mnist-test.h5"
    /// Fashion-MNIST's classes, label k is name k (the dataset's README), stored as `label_names`.
    public static let fashionMNISTLabelNames = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

    public struct Paths: Sendable, Equatable {
        public let train: String
        public let test: String
    }

    /// $VAE_DIST_DATA_DIR if set (and not empty), else ./data.
    public static func dataDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let directory = environment["VAE_DIST_DATA_DIR"], !directory.isEmpty { return directory }
        return "data"
    }

    public static func paths(dataDirectory: String) -> Paths {
        Paths(train: (dataDirectory as NSString).appendingPathComponent(trainFileName),
              test: (dataDirectory as NSString).appendingPathComponent(testFileName))
    }

    /// Converts the four IDX files into the train and test data files (each
    /// written atomically), creating the data directory if needed.
    @discardableResult
    public static func prepareFashionMNIST(
        sourceDirectory: String = fashionMNISTSourceDirectory, dataDirectory: String,
        only which: Set<String> = ["train", "t10k"], log: (String) -> Void = { print($0) }
    ) throws -> Paths {
        let paths = paths(dataDirectory: dataDirectory)
        try createDirectory(dataDirectory)
        for (split, output) in [("train", paths.train), ("t10k", paths.test)] where which.contains(split) {
            let images = (sourceDirectory as NSString).appendingPathComponent("\(split)-images-idx3-ubyte.gz")
            let labels = (sourceDirectory as NSString).appendingPathComponent("\(split)-labels-idx1-ubyte.gz")
            for input in [images, labels] where !FileManager.default.fileExists(atPath: input) {
                throw DataError(file: input, "no such file; the Fashion-MNIST files come from the Debian package "
                                + "dataset-fashion-mnist (scripts/setup.sh installs it)")
            }
            let summary = try DataPreparation.prepareIDX(images: images, labels: labels, output: output,
                                                         labelNames: fashionMNISTLabelNames)
            log("prepared \(summary)")
        }
        return paths
    }

    /// What `vae-dist train` calls without --data: the default files, prepared
    /// first (saying so) when absent. Files already there are validated, never
    /// overwritten. Safe if several ranks call it at once: each writes its own
    /// temporary file and renames it, and the contents are identical.
    public static func ensureFashionMNIST(
        dataDirectory: String? = nil, sourceDirectory: String = fashionMNISTSourceDirectory,
        log: (String) -> Void = { print($0) }
    ) throws -> Paths {
        let directory = dataDirectory ?? Self.dataDirectory()
        let paths = paths(dataDirectory: directory)
        var missing: Set<String> = []
        for (split, path) in [("train", paths.train), ("t10k", paths.test)] {
            if FileManager.default.fileExists(atPath: path) {
                do {
                    _ = try DataFile.open(path)
                } catch {
                    throw DataError(file: path, "the default data file exists but is not valid (\(error)); delete it to have it prepared again")
                }
            } else {
                missing.insert(split)
            }
        }
        if !missing.isEmpty {
            log("default data absent: preparing Fashion-MNIST from \(sourceDirectory) into \(directory)")
            try prepareFashionMNIST(sourceDirectory: sourceDirectory, dataDirectory: directory, only: missing, log: log)
        }
        return paths
    }

    private static func createDirectory(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw DataError(file: path, "cannot create the data directory: \((error as NSError).localizedDescription)")
        }
    }
}
