import VAEParallel

/// Per-step marks taken in the trainer's `onStep` callback.
///
/// Time, seconds spent in allreduce so far, and the allocation counter. Storage is made
/// once per run, so recording allocates nothing and the step loop stays as it is without
/// the bench.
final class StepMarks {
    let capacity: Int
    let time: UnsafeMutablePointer<Double>
    let allreduce: UnsafeMutablePointer<Double>
    let allocations: UnsafeMutablePointer<UInt64>
    let allocatedBytes: UnsafeMutablePointer<UInt64>
    /// Seconds spent exchanging gradients so far (allreduce or shared-memory synchronization).
    private let exchangeSeconds: () -> Double
    private let counter: AllocationCounter?
    /// Trace allocations from the end of step 1 to the end of the last step (0 = off).
    var traceAllocations = 0

    init(steps: Int, exchangeSeconds: @escaping () -> Double, counter: AllocationCounter?) {
        capacity = steps + 1
        time = .allocate(capacity: capacity)
        allreduce = .allocate(capacity: capacity)
        allocations = .allocate(capacity: capacity)
        allocatedBytes = .allocate(capacity: capacity)
        for marks in [time, allreduce] { marks.initialize(repeating: 0, count: capacity) }
        for marks in [allocations, allocatedBytes] { marks.initialize(repeating: 0, count: capacity) }
        self.exchangeSeconds = exchangeSeconds
        self.counter = counter
    }

    deinit { [time, allreduce].forEach { $0.deallocate() }; [allocations, allocatedBytes].forEach { $0.deallocate() } }

    /// Mark `index` (0 = before the epoch, s = after step s).
    func mark(_ index: Int, of steps: Int) {
        time[index] = monotonicSeconds()
        allreduce[index] = exchangeSeconds()
        allocations[index] = counter?.count ?? 0
        allocatedBytes[index] = counter?.bytes ?? 0
        if traceAllocations > 0, let counter {
            if index == 1 && steps > 1 { counter.traceNext(traceAllocations) }
            if index == steps { counter.traceNext(0) }
        }
    }
}
