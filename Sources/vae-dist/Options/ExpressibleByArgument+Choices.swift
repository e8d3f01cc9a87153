import ArgumentParser
import VAECore
import VAEIO
import VAEParallel

// The library's closed choices, parsed from their raw values on the command line.
extension Activation: ExpressibleByArgument {}
extension ArchitectureKind: ExpressibleByArgument {}
extension LikelihoodKind: ExpressibleByArgument {}
extension Estimator: ExpressibleByArgument {}
extension OptimizerKind: ExpressibleByArgument {}
extension ParameterInitialization: ExpressibleByArgument {}
extension LastBatchPolicy: ExpressibleByArgument {}
extension LearningRateScaling: ExpressibleByArgument {}
extension LearningRateSchedule.Kind: ExpressibleByArgument {}
extension PosteriorKind: ExpressibleByArgument {}
extension NonFinitePolicy: ExpressibleByArgument {}
extension GradientExchangeChoice: ExpressibleByArgument {}
extension DormantUnitsChoice: ExpressibleByArgument {}
extension GEMMBackendRequest: ExpressibleByArgument {}
extension GEMMPrecision: ExpressibleByArgument {}
extension ReadingMode: ExpressibleByArgument {}
extension DisplayScaling: ExpressibleByArgument {}
extension ImageLayout: ExpressibleByArgument {}
extension ShuffleMode: ExpressibleByArgument {}
