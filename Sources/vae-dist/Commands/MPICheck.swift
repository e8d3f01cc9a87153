import ArgumentParser
import Foundation
import VAECore
import VAEParallel

/// `vae-dist mpi-check`.
///
/// Proves an MPI setup before a long job. Every collective the trainer uses runs with
/// known inputs and exact expected results on every rank, rank 0 lists where the ranks
/// run, and the gradient allreduce is timed.
struct MPICheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mpi-check",
        abstract: "Check that MPI works for vae-dist and time the gradient exchanges.",
        discussion: """
            Run it the way you will run training, e.g. `mpirun -n 8 vae-dist mpi-check` \
            or `srun vae-dist mpi-check`. Exits non-zero with the failing rank's message \
            if any check fails on any rank.
            """
    )

    @Option(help: "Floats in the timed allreduce (the default model's gradient has 652824).")
    var floats: Int = 652_824

    @Option(help: "Timed repetitions of the allreduce (after 2 untimed warm-up runs).")
    var repetitions: Int = 20

    @Option(help: ArgumentHelp(
        "Make this rank report a simulated failure through the error-agreement protocol.",
        discussion: "Tests the failure path: every rank must exit non-zero with this rank's message, none may hang."))
    var failOnRank: Int?

    @Option(help: ArgumentHelp(
        "How --fail-on-rank fails: 'agreement' (the trainer's path) or 'abort'.",
        discussion: "'abort' throws on that rank alone, as an error the trainer forgot to agree on would: the job must end by MPI_Abort with the message."))
    var failurePath: FailurePath = .agreement

    enum FailurePath: String, ExpressibleByArgument, CaseIterable {
        case agreement, abort
    }

    func validate() throws {
        guard floats > 0 else { throw ValidationError("--floats must be at least 1, got \(floats)") }
        guard (1...1_000_000).contains(repetitions) else {
            throw ValidationError("--repetitions must be 1...1000000, got \(repetitions)")
        }
        if let failOnRank, failOnRank < 0 {
            throw ValidationError("--fail-on-rank must be a rank (0 or more), got \(failOnRank)")
        }
    }

    func run() throws {
        try withCommunicator { communicator in
            try check(communicator)
        }
    }

    private func check(_ communicator: any Communicator) throws {
        // The allreduce buffer, its copy in the shared-memory window, and that exchange's slot.
        try NodeMemory.require(MemoryEstimate.product(floats, MemoryLayout<Float>.size, 3), for: "--floats \(floats)")
        if let failOnRank, failOnRank >= communicator.size {
            // Every rank knows the size, so every rank throws this same error.
            throw OptionOutOfRange(failOnRank: failOnRank, size: communicator.size)
        }
        // Unbuffered, so the lines so far survive when mpirun kills a failing job.
        let report = { (line: String) in communicator.printOnRoot(line) }

        report("mpi-check: \(communicator.size) rank\(communicator.size == 1 ? "" : "s"), \(communicator.backendDescription)")
        let hosts = try communicator.gatherHostNames() ?? []
        for (rank, host) in hosts.enumerated() {
            report("rank \(rank) of \(communicator.size) on \(host)")
        }

        for check in CollectiveCheck.all {
            try check.verify(on: communicator)
            report("ok   \(check.name)")
        }

        if let failOnRank, failurePath == .abort {
            // The safety net: an error only this rank knows of. withCommunicator must
            // MPI_Abort, or the other ranks would wait in the next collective forever.
            if communicator.rank == failOnRank {
                throw SimulatedFailure(rank: failOnRank)
            }
            try communicator.barrier()
            throw SimulatedFailureNotPropagated()
        }
        if let failOnRank {
            // What the trainer does when one rank's step fails: it still joins the fused
            // gradient allreduce, with zeros and a raised status, and every rank then
            // throws that rank's message.
            let failure = communicator.rank == failOnRank ? SimulatedFailure(rank: failOnRank).description : nil
            var gradient = [Float](repeating: 1, count: floats + 1)
            try gradient.withUnsafeMutableBufferPointer {
                try communicator.allreduceSum($0, reportingFailure: failure)
            }
            throw SimulatedFailureNotPropagated()
        }

        let timing = try AllreduceTiming.measure(on: communicator, floatCount: floats, repetitions: repetitions)
        report(describe(timing))
        if communicator.size > 1 {
            switch try SharedExchangeTiming.measure(on: communicator, floatCount: floats, repetitions: repetitions) {
            case .measured(let shared):
                report(describe(shared))
            case .unavailable(let reason):
                report("shared-memory exchange: not available (\(reason)); training uses the allreduce")
            }
        }
        report("mpi-check: all checks passed")
    }

    private func describe(_ timing: SharedExchangeTiming) -> String {
        let milliseconds = { (seconds: Double) in String(format: "%.3f", seconds * 1e3) }
        let nodes = "\(timing.nodes) node\(timing.nodes == 1 ? "" : "s") x \(timing.ranksPerNode) rank\(timing.ranksPerNode == 1 ? "" : "s")"
        let use = timing.ranksPerNode > 1 ? "what training uses by default"
                                          : "training uses the allreduce unless --gradient-exchange shared-memory"
        return "shared-memory exchange (\(nodes), \(use)), \(timing.floatCount) floats, "
            + "\(timing.seconds.count) runs: median \(milliseconds(timing.median)) ms (min \(milliseconds(timing.fastest)), "
            + "max \(milliseconds(timing.slowest)))"
    }

    private func describe(_ timing: AllreduceTiming) -> String {
        let milliseconds = { (seconds: Double) in String(format: "%.3f", seconds * 1e3) }
        let gigabytes = { (bytesPerSecond: Double) in String(format: "%.2f", bytesPerSecond / 1e9) }
        var line = "allreduce sum Float32, \(timing.floatCount) floats "
            + "(\(String(format: "%.2f", Double(timing.bytes) / 1e6)) MB), \(timing.seconds.count) runs: "
            + "median \(milliseconds(timing.median)) ms (min \(milliseconds(timing.fastest)), "
            + "max \(milliseconds(timing.slowest)))"
        if timing.ranks > 1 {
            line += ", \(gigabytes(timing.algorithmBandwidth)) GB/s "
                + "(bus bandwidth \(gigabytes(timing.busBandwidth)) GB/s)"
        } else {
            line += "; one rank moves nothing, so no bandwidth"
        }
        return line
    }
}

/// `--fail-on-rank` names a rank this job does not have; every rank sees the same size.
struct OptionOutOfRange: CollectiveError, CustomStringConvertible {
    let failOnRank: Int
    let size: Int

    var description: String {
        "--fail-on-rank \(failOnRank) is not a rank of this \(size)-rank job (ranks 0...\(size - 1))"
    }
}

/// The failure `--fail-on-rank` injects, labelled so nobody mistakes it for a real one.
struct SimulatedFailure: Error, CustomStringConvertible {
    let rank: Int

    var description: String {
        "simulated failure requested by --fail-on-rank \(rank) (mpi-check; not a real error)"
    }
}

/// The simulated failure did not end the job.
///
/// The agreement protocol (or the abort) is broken. Every remaining rank reaches this
/// together, so it is collective.
struct SimulatedFailureNotPropagated: CollectiveError, CustomStringConvertible {
    var description: String { "the simulated failure did not end the job: error propagation is broken" }
}
