extension DataPreparation {
    /// An HDF5 file of anyone's making (h5py, ...) -> a vae-dist data file.
    ///
    /// For the arrays Python users save as they are: float64 (numpy's default), and
    /// images [N, H, W], [N, C, H, W] or [N, H, W, C] (RowLayout), which training reads
    /// only as [N, D] of uint8 or float32. `features` and `labels` name the datasets
    /// (nil labels: `/labels` when the file has one). uint8 keeps the dataset's `scale`
    /// attribute, else `scale`, else 1/255; `label_names` is carried over.
    public static func prepareHDF5(
        _ input: String, features featuresName: String = "features", labels labelsName: String? = nil, output: String,
        scale: Double? = nil, layout: ImageLayout = .auto, gzipLevel: Int? = 4, onProgress: PrepareProgress? = nil
    ) throws -> PrepareSummary {
        try timed(output: output) {
            try DataFile.checkReadableHDF5(input, kind: "input file")
            let file = try HDF5File.open(input)
            let root = try file.root()
            let features = try openArray(featuresName, in: root, option: "--features")
            let shape = try features.shape()
            let element: InputElement
            switch try features.elementType() {
            case .uint8: element = .uint8
            case .float32: element = .float32
            case .float64: element = .float64
            case let other:
                throw DataError(file: input, object: features.path, "has dtype \(other); expected uint8, float32 or float64")
            }
            let rowLayout = try RowLayout.of(shape: shape, layout: layout, file: input + " " + features.path)
            let rows = shape[0]

            var labels: [Int64]? = nil
            var labelNames = try root.stringArrayAttribute(DataFile.labelNamesAttribute)
            let labelsPath = try labelsName ?? (root.contains(DataFile.labelsPath) ? DataFile.labelsPath : nil)
            if let labelsPath {
                let dataset = try openArray(labelsPath, in: root, option: "--labels")
                let labelShape = try dataset.shape()
                guard labelShape == [rows], try dataset.elementType().isInteger else {
                    throw DataError(file: input, object: dataset.path, "has shape \(labelShape) of \(try dataset.elementType()); "
                                    + "expected integer labels [\(rows)], one per row of \(features.path)")
                }
                labels = try dataset.read(as: Int64.self)
                labelNames = try dataset.stringArrayAttribute(DataFile.labelNamesAttribute) ?? labelNames
            }
            let storedScale = element == .uint8 ? try features.doubleAttribute("scale") : nil
            return try writeConverted(
                to: output, rows: rows, element: element, layout: rowLayout, input: input, inputShape: shape,
                labels: labels, labelNames: labelNames,
                source: "hdf5: \(input) \(features.path)" + (labelsPath.map { " + \($0)" } ?? ""),
                scale: element == .uint8 ? (storedScale ?? scale ?? 1.0 / 255.0) : nil, gzipLevel: gzipLevel,
                onProgress: onProgress
            ) { start, count, bytes in
                let range = start..<(start + count)
                switch element {
                case .uint8: try features.readRows(range, into: bytes.bindMemory(to: UInt8.self))
                case .float32: try features.readRows(range, into: bytes.bindMemory(to: Float.self))
                case .float64: try features.readRows(range, into: bytes.bindMemory(to: Double.self))
                }
            }
        }
    }

    /// The dataset `name` of `root`; when there is none, the error lists the file's datasets.
    private static func openArray(_ name: String, in root: HDF5Group, option: String) throws -> HDF5Dataset {
        guard try root.contains(name), try root.kind(of: name) == .dataset else {
            let found = try root.children().filter { $0.kind == .dataset }.map { child -> String in
                let dataset = try root.openDataset(child.name)
                return "/\(child.name) \(try dataset.shape()) \(try dataset.elementType())"
            }
            throw DataError(file: root.file.path, "has no dataset '\(name)'; "
                            + (found.isEmpty ? "it has no datasets at its root" : "its datasets are \(found.joined(separator: ", "))")
                            + "; name one with \(option)")
        }
        return try root.openDataset(name)
    }
}
