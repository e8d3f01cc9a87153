/// The start-up check of the properties `ReproducibleGEMM` rests on, for the kernel in use.
extension ReproducibleGEMM {
    /// One layer's products as a training step computes them.
    public struct Product: Hashable, Sendable {
        public var inFeatures: Int
        public var outFeatures: Int
        /// The rows of a global batch the layer sees (rows x draws in the decoder): the K of its dW.
        public var rows: Int
        /// Whether the step computes dL/d(input) (not for the data-fed first layer).
        public var inputGradient: Bool

        public init(inFeatures: Int, outFeatures: Int, rows: Int, inputGradient: Bool) {
            (self.inFeatures, self.outFeatures, self.rows, self.inputGradient) = (inFeatures, outFeatures, rows, inputGradient)
        }
    }

    /// The first product, layer, count and thread count found to break the guarantee.
    public struct Failure: Equatable, Sendable, CustomStringConvertible {
        public var product: String
        public var inFeatures: Int, outFeatures: Int
        public var count: Int
        public var threads: Int

        public var description: String {
            "\(product) of a \(inFeatures) -> \(outFeatures) layer differs for \(count) "
                + (product == "dW" ? "unit" : "row") + (count == 1 ? "" : "s") + " at \(threads) BLAS thread"
                + (threads == 1 ? "" : "s")
        }
    }

    /// nil when, under `policy`, every product of `products` gives each row (forward, dX)
    /// and each unit (dW) the bits of one call on all rows with one thread, for calls on
    /// fewer rows or units and with each of `threadCounts`; else the first failure.
    ///
    /// Made-up data: a sum's order depends only on the shapes, the kernel and the threads.
    /// Runs with the policy in force and restores the caller's policy and threads; allocates.
    public static func check(policy: Policy, products: [Product], threadCounts: [Int]) -> Failure? {
        let (savedPolicy, savedThreads) = (self.policy, BLASLibrary.threadCount)
        use(policy)
        defer {
            use(savedPolicy)
            BLASLibrary.setThreadCount(savedThreads)
        }
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        func values(_ count: Int, relu: Bool = false) -> FloatBuffer {
            let buffer = FloatBuffer(count: count)
            for i in 0..<count {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                let value = Float(state >> 40) / Float(1 << 24) - 0.5
                buffer[i] = relu && value < 0 ? 0 : value
            }
            return buffer
        }
        for product in Set(products).sorted(by: { [$0.inFeatures, $0.outFeatures, $0.rows]
                                                     .lexicographicallyPrecedes([$1.inFeatures, $1.outFeatures, $1.rows]) }) {
            let (width, units, total) = (product.inFeatures, product.outFeatures, product.rows)
            guard width >= 1, units >= 1, total >= 1 else { continue }
            let x = values(total * width, relu: true), w = values(units * width), dy = values(total * units)
            let bias = values(units)
            let layer = Dense(inFeatures: width, outFeatures: units, weightOffset: 0, biasOffset: units * width)
            let parameters = FloatBuffer(count: units * (width + 1))
            parameters.pointer.update(from: w.pointer, count: units * width)
            (parameters.pointer + units * width).update(from: bias.pointer, count: units)
            let rowCounts = Set([1, 2, 3, 7, 16, 31, 43, 63, 64, total / 2, total - 1]).filter { $0 >= 1 && $0 < total }
            let unitCounts = Set([1, 2, 3, 16, units / 2, units - 1]).filter { $0 >= 1 && $0 < units }

            func forward(rows: Int, offset: Int, into y: FloatBuffer) {
                layer.forward(input: x.pointer + offset * width, rows: rows, parameters: parameters.pointer, output: y.pointer)
            }
            func inputGradient(rows: Int, offset: Int, into dx: FloatBuffer) {
                layer.backwardData(outputGradient: dy.pointer + offset * units, rows: rows, parameters: parameters.pointer,
                                   inputGradient: dx.pointer)
            }
            func weightGradient(_ range: Range<Int>, into gradient: FloatBuffer) {
                layer.backwardWeights(input: x.pointer, outputGradient: dy.pointer, rows: total, outputUnits: range,
                                      gradients: gradient.pointer)
            }
            BLASLibrary.setThreadCount(1)
            let (y, dx, dw) = (FloatBuffer(count: total * units), FloatBuffer(count: total * width),
                               FloatBuffer(count: units * (width + 1)))
            forward(rows: total, offset: 0, into: y)
            if product.inputGradient { inputGradient(rows: total, offset: 0, into: dx) }
            weightGradient(0..<units, into: dw)
            let (part, partGradient) = (FloatBuffer(count: total * max(units, width)), FloatBuffer(count: units * (width + 1)))
            for threads in threadCounts {
                BLASLibrary.setThreadCount(threads)
                for rows in rowCounts.union([total]).sorted() {
                    for offset in Set([0, total - rows]) {
                        forward(rows: rows, offset: offset, into: part)
                        if !same(part.pointer, y.pointer + offset * units, rows * units) {
                            return Failure(product: "forward", inFeatures: width, outFeatures: units, count: rows, threads: threads)
                        }
                        guard product.inputGradient else { continue }
                        inputGradient(rows: rows, offset: offset, into: part)
                        if !same(part.pointer, dx.pointer + offset * width, rows * width) {
                            return Failure(product: "dX", inFeatures: width, outFeatures: units, count: rows, threads: threads)
                        }
                    }
                }
                for count in unitCounts.union([units]).sorted() {
                    for first in Set([0, units - count]) {
                        weightGradient(first..<(first + count), into: partGradient)
                        if !same(partGradient.pointer + first * width, dw.pointer + first * width, count * width) {
                            return Failure(product: "dW", inFeatures: width, outFeatures: units, count: count, threads: threads)
                        }
                    }
                }
            }
        }
        return nil
    }

    private static func same(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Bool {
        (0..<count).allSatisfy { a[$0].bitPattern == b[$0].bitPattern }
    }
}
