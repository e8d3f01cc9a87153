import ArgumentParser
import VAEBuildInfo

@main
struct VAEDist: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vae-dist",
        abstract: "Data-parallel variational autoencoder training over MPI, on HDF5 data.",
        version: "vae-dist \(BuildInfo.versionLine)",
        subcommands: [Train.self, Embed.self, Eval.self, Sample.self, Reconstruct.self, Manifold.self,
                      Prepare.self, Inspect.self, Check.self, Reseal.self, MPICheck.self, Bench.self]
    )
}
