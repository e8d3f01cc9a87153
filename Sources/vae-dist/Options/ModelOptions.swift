import ArgumentParser
import VAECore

/// `train`'s model and objective: what a resumed run keeps from its checkpoint.
///
/// Each option is optional so that `--resume` can tell the options a user gave from
/// the defaults; the defaults are in the help text.
struct ModelOptions: ParsableArguments {
    @Option(help: "Model: mlp (dense layers, --hidden) or conv (convolutions of the data's image_shape, --channels) (default mlp).")
    var architecture: ArchitectureKind?
    @Option(help: "Latent dimension Z (default 20).")
    var latent: Int?
    @Option(help: "mlp: hidden layer sizes, comma-separated; the decoder mirrors them (default 400; e.g. 512,256).")
    var hidden: String?
    @Option(help: "conv: output channels of the encoder's convolutions, comma-separated; the decoder mirrors them (default 32,64).")
    var channels: String?
    @Option(help: "conv: kernel size k of every convolution, padding (k - 1) / 2 (default 3).")
    var kernel: Int?
    @Option(help: "conv: stride of every convolution (default 2: each halves the image).")
    var stride: Int?
    @Option(help: "Hidden activation: \(Activation.allCases.map(\.rawValue).joined(separator: ", ")) (default relu).")
    var activation: Activation?
    @Option(help: "Likelihood: bernoulli (data in [0, 1]) or gaussian (fixed or learned variance; any range) (default bernoulli).")
    var likelihood: LikelihoodKind?
    @Option(help: "Variance of the gaussian likelihood when not learned (default 1).")
    var gaussianVariance: Float?
    @Flag(inversion: .prefixedNo, help: "Learn the gaussian likelihood's variance per pixel (tensor decoder.logvar) (default off).")
    var learnedVariance: Bool?
    @Option(help: "Floor of the learned variance, in squared data units: variance = floor + exp(decoder.logvar) (default 1e-4).")
    var varianceFloor: Float?
    @Option(help: "Posterior family q(z|x): \(PosteriorKind.allCases.map(\.rawValue).joined(separator: ", ")) (default gaussian).")
    var posterior: PosteriorKind?
    @Option(help: "Parameter init: pytorch or glorot (default pytorch).")
    var initialization: ParameterInitialization?
    @Option(help: "SGVB estimator: A (Monte Carlo KL) or B (analytic KL) (default: B when the posterior has an analytic KL, else A).")
    var estimator: Estimator?
    @Option(help: "Samples L of z per datapoint (default 1).")
    var samples: Int?
    @Option(help: "Weight of the KL term, beta-VAE (default 1).")
    var beta: Float?
    @Option(help: "Linear KL warm-up length in epochs, 0 = off (default 0).")
    var klWarmup: Double?

    func validate() throws {
        if let hidden, hiddenSizes == nil {
            throw ValidationError("--hidden must be comma-separated positive sizes like 400 or 512,256, got '\(hidden)'")
        }
        if let channels, convolutionChannels == nil {
            throw ValidationError("--channels must be comma-separated positive counts like 32,64, got '\(channels)'")
        }
        if architecture != .conv && (channels != nil || kernel != nil || stride != nil) {
            throw ValidationError("--channels, --kernel and --stride shape the convolutions of --architecture conv")
        }
        if architecture == .conv && hidden != nil {
            throw ValidationError("--hidden sizes the dense layers of --architecture mlp; conv takes --channels")
        }
    }

    private var hiddenSizes: [Int]? { hidden.flatMap(Self.positiveCounts) }
    private var convolutionChannels: [Int]? { channels.flatMap(Self.positiveCounts) }

    /// "512,256" as [512, 256]; nil unless every entry is a positive integer.
    private static func positiveCounts(_ text: String) -> [Int]? {
        let sizes = text.split(separator: ",", omittingEmptySubsequences: false)
            .map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !sizes.isEmpty, sizes.allSatisfy({ ($0 ?? 0) >= 1 }) else { return nil }
        return sizes.map { $0! }
    }

    /// Sets every option the user gave in `configuration`.
    func apply(to configuration: inout TrainingConfiguration) {
        switch architecture {
        case .conv?:
            var shape = configuration.architecture.convolution ?? ConvolutionalShape()
            if let convolutionChannels { shape.channels = convolutionChannels }
            if let kernel { shape.kernel = kernel }
            if let stride { shape.stride = stride }
            configuration.architecture.convolution = shape
            configuration.architecture.hiddenSizes = []
        case .mlp?:
            if configuration.architecture.convolution != nil {
                configuration.architecture.convolution = nil
                configuration.architecture.hiddenSizes = TrainingConfiguration.defaults().architecture.hiddenSizes
            }
        case nil:
            break
        }
        if let latent { configuration.architecture.latentDimension = latent }
        if let hiddenSizes { configuration.architecture.hiddenSizes = hiddenSizes }
        if let activation { configuration.architecture.activation = activation }
        if let likelihood { configuration.likelihood = likelihood }
        if let gaussianVariance { configuration.gaussianVariance = gaussianVariance }
        if let learnedVariance {
            configuration.architecture.learnedVarianceFloor = learnedVariance
                ? (varianceFloor ?? configuration.architecture.learnedVarianceFloor ?? 1e-4) : nil
        } else if let varianceFloor, configuration.architecture.learnedVarianceFloor != nil {
            configuration.architecture.learnedVarianceFloor = varianceFloor
        }
        if let posterior {
            configuration.posterior = posterior
            // A family without an analytic KL defaults to estimator A.
            if estimator == nil { configuration.estimator = posterior.defaultEstimator }
        }
        if let initialization { configuration.initialization = initialization }
        if let estimator { configuration.estimator = estimator }
        if let samples { configuration.samples = samples }
        if let beta { configuration.beta = beta }
        if let klWarmup { configuration.klWarmupEpochs = klWarmup }
    }
}
