import ArgumentParser
import VAEIO

/// `vae-dist reconstruct`: data rows above their reconstructions, as a PNG grid.
struct Reconstruct: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show data rows above their reconstructions (decoder mean at the posterior mean) in a PNG grid.",
        discussion: """
            The grid is made of bands: a row of inputs over the row of their reconstructions. \
            Rows default to --count rows evenly spaced through the file (a spread of a sorted file too); \
            --first takes rows 0..<count, --rows names them. Runs as one process (under mpirun only rank 0 writes).
            """)

    @OptionGroup var picture: PictureOptions

    @Option(help: "The HDF5 data file whose rows are reconstructed.")
    var data: String

    @Option(help: "Number of rows (default 32; not with --rows).")
    var count: Int?

    @Option(help: ArgumentHelp("Rows to show: comma-separated rows and START:END ranges (END excluded), e.g. 0,7,100:110.",
                               valueName: "list"))
    var rows: String?

    @Flag(help: "Take the first --count rows instead of rows spread through the file.")
    var first = false

    @Option(help: "Images per band (inputs per row).")
    var columns: Int = 8

    static let maximumCount = 1024

    func validate() throws {
        if let count, !(1...Self.maximumCount).contains(count) {
            throw ValidationError("--count must be 1...\(Self.maximumCount), got \(count)")
        }
        guard columns >= 1 else { throw ValidationError("--columns must be at least 1, got \(columns)") }
        if let rows {
            guard count == nil, !first else { throw ValidationError("--rows names the rows itself: give it without --count or --first") }
            guard let list = Self.parseRows(rows) else {
                throw ValidationError("--rows must be comma-separated rows (0 or more) and START:END ranges, e.g. 0,7,100:110, got '\(rows)'")
            }
            guard (1...Self.maximumCount).contains(list.count) else {
                throw ValidationError("--rows names \(list.count) rows; expected 1...\(Self.maximumCount)")
            }
        }
    }

    static func parseRows(_ text: String) -> [Int]? {
        var result: [Int] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let trimmed = part.trimmingCharacters(in: .whitespaces)
            if trimmed.contains(":") {
                let bounds = trimmed.split(separator: ":", omittingEmptySubsequences: false).map { Int($0) }
                guard bounds.count == 2, let start = bounds[0], let end = bounds[1], start >= 0, end > start,
                      end - start <= maximumCount else { return nil }
                result += Array(start..<end)
            } else {
                guard let row = Int(trimmed), row >= 0 else { return nil }
                result.append(row)
            }
        }
        return result.isEmpty ? nil : result
    }

    func run() throws {
        if PictureOptions.isNonRootRank { return }
        let (model, path) = try picture.loadModel()
        let dataFile = try DataFile.open(data)
        guard dataFile.featureCount == model.architecture.dataDimension else {
            throw DataError(file: data, object: DataFile.featuresPath,
                            "has \(dataFile.featureCount) features per row, but the checkpoint's model expects \(model.architecture.dataDimension)")
        }
        let selected: [Int]
        if let rows {
            selected = Self.parseRows(rows)!
            if let bad = selected.first(where: { $0 >= dataFile.rowCount }) {
                throw DataError(file: data, object: DataFile.featuresPath, "--rows names row \(bad), but the file has rows 0..<\(dataFile.rowCount)")
            }
        } else {
            let wanted = min(count ?? 32, dataFile.rowCount)
            selected = first ? Array(0..<wanted) : (0..<wanted).map { $0 * dataFile.rowCount / wanted }
        }
        let shape = try picture.shape(for: model, dataFile: data, dataFileVerified: true)
        let inputs = try Pictures.readRows(selected, of: dataFile, bernoulli: model.likelihood == .bernoulli)
        let result = Pictures.reconstructions(model: model, shape: shape, inputs: inputs, columns: columns, scaling: picture.scaling)
        let rowText = selected.count <= 8 ? "rows \(selected.map(String.init).joined(separator: ","))" : "\(selected.count) rows"
        try picture.write(result, what: "\(rowText) of \(data) and their reconstructions", checkpointPath: path, model: model)
    }
}
