import VAECore

extension ReproducibleGEMM {
    /// Collective: runs the start-up check on every rank and turns the policy on when every
    /// rank passed; returns the first failure (this rank's, or that another rank failed).
    ///
    /// The check's products are capped at 256 rows: the properties it tests do not depend
    /// on a call's size beyond that (`check` cuts along K the same way at any size), and a
    /// decoder over 5,000 importance draws would make start-up slow.
    public static func enableIfReproducible(products: [Product], communicator: any Communicator) throws -> String? {
        use(nil)
        let capped = products.map { product in
            var capped = product
            capped.rows = min(product.rows, 256)
            return capped
        }
        let policy = Policy()
        let failure = check(policy: policy, products: capped, threadCounts: Array(Set([1, 2, BLASLibrary.threadCount])).sorted())
        guard try communicator.allreduce(Int64(failure == nil ? 1 : 0), .min) == 1 else {
            return "BLAS kernel \(BLASLibrary.coreName): " + (failure.map { "\($0)" } ?? "another rank's check failed")
        }
        use(policy)
        return nil
    }

    /// `enableIfReproducible` for the products of `architecture` (`products(of:)`); a
    /// convolutional model's GEMMs are not among the checked shapes, so it runs without
    /// the policy and gets the reason back.
    public static func enableIfReproducible(for architecture: ModelArchitecture, rows: Int, draws: Int,
                                            communicator: any Communicator) throws -> String? {
        guard architecture.convolution == nil else {
            use(nil)
            return "the check knows the MLP's GEMMs only"
        }
        return try enableIfReproducible(products: products(of: architecture, rows: rows, draws: draws),
                                        communicator: communicator)
    }

    /// Every GEMM shape a forward and backward of `architecture` makes on `rows` rows (`draws` per row in the decoder).
    ///
    /// A ReLU encoder also runs its layers at compact widths (active units in multiples of 16).
    public static func products(of architecture: ModelArchitecture, rows: Int, draws: Int) -> [Product] {
        let encoderWidths = [architecture.dataDimension] + architecture.hiddenSizes + [2 * architecture.latentDimension]
        let decoderWidths = [architecture.latentDimension] + architecture.hiddenSizes.reversed() + [architecture.dataDimension]
        var products: [Product] = []
        for (index, (input, output)) in zip(encoderWidths, encoderWidths.dropFirst()).enumerated() {
            var inputs = [input]
            if index > 0 && architecture.activation == .relu { inputs += [max(16, input / 2 / 16 * 16), 16] }
            for width in Set(inputs) {
                products.append(Product(inFeatures: width, outFeatures: output, rows: rows, inputGradient: index > 0))
            }
        }
        for (input, output) in zip(decoderWidths, decoderWidths.dropFirst()) {
            products.append(Product(inFeatures: input, outFeatures: output, rows: rows * draws, inputGradient: true))
        }
        return products
    }
}
