import Foundation

/// What a Philox draw is for.
///
/// Stored in the top 8 bits of the counter's last word, so that the streams can never
/// overlap (docs/algorithm.md).
public enum RandomPurpose: UInt32, Sendable {
    case parameterInit = 1
    case trainingNoise = 2
    case epochShuffle = 3
    case evaluationNoise = 4
    case blockShuffle = 5
    case validationSplit = 6
}

/// Every random number vae-dist uses, as pure functions of the run's seed and the indices that name the draw.
public struct RandomStreams: Sendable {
    public let seed: UInt64
    private let philox: Philox4x32

    public init(seed: UInt64) {
        self.seed = seed
        philox = Philox4x32(seed: seed)
    }

    @inline(__always)
    private func purposeWord(_ purpose: RandomPurpose, _ low: Int) -> UInt32 {
        precondition(low >= 0 && low < (1 << 24), "draw index out of range for a Philox counter")
        return (purpose.rawValue << 24) | UInt32(low)
    }

    /// The init uniform in [0, 1) of element `element` of tensor `tensor`.
    public func initUniform(tensor: Int, element: Int) -> Double {
        let block = philox.block(
            UInt32(element / 4), UInt32(tensor), 0, purposeWord(.parameterInit, 0))
        let word: UInt32
        switch element % 4 {
        case 0: word = block.0
        case 1: word = block.1
        case 2: word = block.2
        default: word = block.3
        }
        return Double(word) * 0x1p-32
    }

    /// Standard normal noise for one (row, draw): writes `count` floats.
    ///
    /// Training noise is keyed by epoch; evaluation noise uses epoch 0 of its own stream.
    public func normals(
        purpose: RandomPurpose = .trainingNoise, epoch: Int, row: Int, draw: Int,
        count: Int, into destination: UnsafeMutablePointer<Float>
    ) {
        fillNoise(purpose: purpose, epoch: epoch, row: row, draw: draw, count: count, into: destination) { words in
            let (n0, n1) = Self.boxMuller(words.0, words.1)
            let (n2, n3) = Self.boxMuller(words.2, words.3)
            return (n0, n1, n2, n3)
        }
    }

    /// Noise of a family sampled by its inverse CDF, for one (row, draw): writes `count` floats.
    ///
    /// Same counters as `normals`; element j takes word j mod 4 of block j / 4 as the open
    /// uniform u = (x + 0.5) 2^-32 and is quantile(u), computed in float64 and rounded once
    /// to float32.
    @inline(__always)
    public func inverseCDFNoise(
        purpose: RandomPurpose = .trainingNoise, epoch: Int, row: Int, draw: Int,
        count: Int, into destination: UnsafeMutablePointer<Float>, quantile: (Double) -> Double
    ) {
        fillNoise(purpose: purpose, epoch: epoch, row: row, draw: draw, count: count, into: destination) { words in
            (Float(quantile(Self.openUniform(words.0))), Float(quantile(Self.openUniform(words.1))),
             Float(quantile(Self.openUniform(words.2))), Float(quantile(Self.openUniform(words.3))))
        }
    }

    /// The noise blocks of one (row, draw), through `transform`.
    ///
    /// Block b, counter (b, row, epoch, purpose | draw), serves elements 4b ..< 4b + 4; the
    /// last block may be cut short.
    @inline(__always)
    private func fillNoise(
        purpose: RandomPurpose, epoch: Int, row: Int, draw: Int, count: Int,
        into destination: UnsafeMutablePointer<Float>,
        transform: ((UInt32, UInt32, UInt32, UInt32)) -> (Float, Float, Float, Float)
    ) {
        let c1 = UInt32(truncatingIfNeeded: row)
        let c2 = UInt32(truncatingIfNeeded: epoch)
        let c3 = purposeWord(purpose, draw)
        var index = 0
        var blockIndex: UInt32 = 0
        while index < count {
            let values = transform(philox.block(blockIndex, c1, c2, c3))
            destination[index] = values.0
            if index + 1 < count { destination[index + 1] = values.1 }
            if index + 2 < count { destination[index + 2] = values.2 }
            if index + 3 < count { destination[index + 3] = values.3 }
            index += 4
            blockIndex += 1
        }
    }

    /// Uniform in the open interval (0, 1): never 0, 1 or exactly 1/2.
    @inline(__always)
    static func openUniform(_ word: UInt32) -> Double { (Double(word) + 0.5) * 0x1p-32 }

    /// Two standard normals from two words; float64 math, rounded once.
    @inline(__always)
    static func boxMuller(_ a: UInt32, _ b: UInt32) -> (Float, Float) {
        let u0 = openUniform(a)
        let u1 = openUniform(b)
        let radius = (-2 * Foundation.log(u0)).squareRoot()
        let angle = 2 * Double.pi * u1
        return (Float(radius * Foundation.cos(angle)), Float(radius * Foundation.sin(angle)))
    }

    /// The `count` rows of `rowCount` held out for validation (`--validation-fraction`), in
    /// row order: those with the smallest Philox keys (purpose 6), ties by row.
    ///
    /// A pure function of (seed, rowCount), never of the rank count or the epoch.
    public func validationRows(rowCount: Int, count: Int) -> [Int] {
        let c3 = purposeWord(.validationSplit, 0)
        var keyed = [(key: UInt64, row: Int)]()
        keyed.reserveCapacity(rowCount)
        for row in 0..<rowCount {
            let words = philox.block(UInt32(truncatingIfNeeded: row), 0, 0, c3)
            keyed.append((UInt64(words.1) << 32 | UInt64(words.0), row))
        }
        keyed.sort { $0.key != $1.key ? $0.key < $1.key : $0.row < $1.row }
        return keyed.prefix(count).map(\.row).sorted()
    }

    /// The order in which epoch `epoch` visits `rowCount` rows: rows sorted by their Philox key, ties by row.
    public func epochOrder(epoch: Int, rowCount: Int) -> [Int] {
        let c2 = UInt32(truncatingIfNeeded: epoch)
        let c3 = purposeWord(.epochShuffle, 0)
        var keyed = [(key: UInt64, row: Int)]()
        keyed.reserveCapacity(rowCount)
        for row in 0..<rowCount {
            let words = philox.block(UInt32(truncatingIfNeeded: row), 0, c2, c3)
            keyed.append((UInt64(words.1) << 32 | UInt64(words.0), row))
        }
        keyed.sort { $0.key != $1.key ? $0.key < $1.key : $0.row < $1.row }
        return keyed.map(\.row)
    }
}
