import ArgumentParser

@main
struct VAEDist: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vae-dist",
        abstract: "Data-parallel variational autoencoder training over MPI.",
        subcommands: [MPICheck.self]
    )
}
