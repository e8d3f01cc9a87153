import Foundation
import VAECore
import VAEIO

extension BenchReport {
    /// The human-readable form: what was measured, where, and the spread of each number.
    public var table: String {
        var lines: [String] = []
        let threads = machine.blasThreads
        let load = machine.loadAverage.map { String(format: "%.2f", $0) }.joined(separator: " ")
        lines.append("vae-dist bench: \(ranks) rank\(ranks == 1 ? "" : "s"), BLAS \(machine.blasKernel) x \(threads) "
                     + "thread\(threads == 1 ? "" : "s") per rank, FTZ \(flushToZeroActive ? "on" : "off"), "
                     + "\(machine.cpuModel) (\(machine.usableProcessors) of \(machine.onlineProcessors) CPUs), load \(load)")
        if let choice = machine.blasKernelChoice { lines.append("  kernel:  \(choice)") }
        if let choice = machine.blasThreadChoice { lines.append("  threads: \(choice)") }
        lines.append("  model \(model.architecture), \(model.parameters) parameters, "
                     + fixed(model.flopsPerSample / 1e6, 2) + " MFLOP/sample; global batch \(globalBatch) "
                     + "(\(rowsPerRank) per rank); data \(data.source), \(data.rows) rows")

        lines.append("  gemm:    \(gemm.engine) (\(gemm.reason))")
        for ceiling in ceilings {
            lines.append("")
            lines.append("GEMM ceiling, \(ceiling.rank0.engine), rank 0 at \(ceiling.rank0.threads) "
                         + "thread\(ceiling.rank0.threads == 1 ? "" : "s") (median of 5 rounds)")
            lines.append(pad("  shape", 28) + lpad("m", 6) + lpad("n", 6) + lpad("k", 6) + lpad("GFLOP/s", 10)
                         + lpad("us/call", 10) + lpad("spread", 8) + lpad("mallocs/call", 14))
            for rate in ceiling.rank0.rates {
                let shape = rate.shape
                lines.append(pad("  " + shape.name, 28) + lpad("\(shape.m)", 6) + lpad("\(shape.n)", 6)
                             + lpad("\(shape.k)", 6) + lpad(fixed(rate.gflops, 1), 10)
                             + lpad(fixed(rate.secondsPerCall.median * 1e6, 1), 10)
                             + lpad(percent(rate.secondsPerCall.relativeRange), 8)
                             + lpad(rate.allocationsPerCall.map { fixed($0, 2) } ?? "-", 14))
            }
            lines.append(pad("  time-weighted aggregate", 46) + lpad(fixed(ceiling.gflops, 1), 10)
                         + "  -> \(Int(ceiling.samplesPerSecond.rounded())) samples/s for the job")
        }

        if let training {
            let epochs = training.epochs
            lines.append("")
            lines.append("training: \(epochs.count) epochs x \(epochs.first?.steps ?? 0) steps, data in memory, "
                         + "one repetition = one epoch (slowest rank)")
            let rate = training.samplesPerSecond
            lines.append("  samples/s      median \(whole(rate.median))  min \(whole(rate.min))  max \(whole(rate.max))"
                         + "  (range \(percent(rate.relativeRange)) of the median)")
            lines.append("  epoch 1 -> \(epochs.count)   \(whole(training.firstEpochSamplesPerSecond)) -> "
                         + "\(whole(training.lastEpochSamplesPerSecond)) samples/s (x" + fixed(training.lastOverFirst, 3) + ")")
            var achieved = "  achieved       " + fixed(training.achievedGflops, 1) + " GFLOP/s"
            if let fraction = training.fractionOfCeiling { achieved += " = \(percent(fraction)) of the \(gemm.engine) ceiling" }
            lines.append(achieved)
            lines.append("  step (rank 0)  median " + fixed(training.medianStepMilliseconds, 3) + " ms; mean "
                         + fixed(training.meanStepMilliseconds, 3) + " ms = compute " + fixed(training.meanComputeMilliseconds, 3)
                         + " + exchange " + fixed(training.meanAllreduceMilliseconds, 3) + " ms")
            if ranks > 1 {
                lines.append("  exchange       \(gradientExchange ?? "allreduce"): \(percent(training.allreduceShare)) of step time "
                             + "on rank 0 (incl. waiting for slower ranks); per rank "
                             + perRank.map { percent($0.allreduceShare ?? 0) }.joined(separator: ", "))
            }
            if epochs.count <= 12 {
                lines.append("  train -ELBO    " + epochs.map { fixed($0.trainNegativeELBO, 2) }.joined(separator: " "))
                lines.append("  dormant units  " + epochs.map { $0.dormantUnits.map(String.init) ?? "-" }.joined(separator: " ")
                             + " (\(dormantUnits))")
                if let reproducibility { lines.append("  bits           \(reproducibility)") }
            }
        }
        if let difference = gradientDifference {
            func describe(_ at: GradientDifference.AtParameters) -> String {
                "\(String(format: "%.2e", at.relativeNorm)) (cosine \(String(format: "%.6f", at.cosine)); worst "
                    + "\(at.worstTensor) \(String(format: "%.2e", at.worstTensorRelativeNorm)); loss "
                    + "\(fixed(at.lossBF16, 3)) vs \(fixed(at.lossFP32, 3)))"
            }
            lines.append("  bf16 gradient  ||g_bf16 - g_fp32|| / ||g_fp32|| on \(difference.rows) rows: at init "
                         + describe(difference.initial) + "; trained " + describe(difference.trained))
        }
        if let allreduce {
            let bare = allreduce.bareMilliseconds
            var line = "  allreduce bare " + fixed(bare.median, 3) + " ms median (min " + fixed(bare.min, 3) + ", max "
                + fixed(bare.max, 3) + ") of \(allreduce.bareRepetitions), " + fixed(Double(allreduce.bytes) / 1e6, 2) + " MB"
            if let count = allreduce.bareAllocations { line += ", \(count) allocations" }
            lines.append(line)
        }
        let busy = perRank.map { "rank \($0.rank) " + fixed($0.cpuPerWallSecond ?? 0, 2) }
        lines.append("  CPU s / wall s " + busy.joined(separator: ", ")
                     + " while training (below the threads per rank: waiting for a CPU)")
        let memory = perRank.map { "rank \($0.rank) " + ($0.peakResidentBytes.map(formatByteCount) ?? "?") }
        lines.append("  peak RSS       " + memory.joined(separator: ", "))
        if let count = allocations.count {
            lines.append("  allocations    \(count) in \(allocations.steps) steady-state steps x \(ranks) rank"
                         + "\(ranks == 1 ? "" : "s") (" + fixed(allocations.perStep ?? 0, 2) + " per step, "
                         + formatByteCount(Int(allocations.bytes ?? 0)) + ")")
        } else {
            lines.append("  allocations    \(allocations.status)")
        }
        return lines.joined(separator: "\n")
    }
}

private func fixed(_ value: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", value) }
private func whole(_ value: Double) -> String { String(Int(value.rounded())) }
private func percent(_ fraction: Double) -> String { String(format: "%.1f%%", fraction * 100) }
private func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
}
private func lpad(_ text: String, _ width: Int) -> String {
    text.count >= width ? " " + text : String(repeating: " ", count: width - text.count) + text
}
