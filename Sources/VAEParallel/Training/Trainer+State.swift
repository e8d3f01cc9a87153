import VAECore
import VAEIO

// Where the parameters and the optimizer state come from: the seed, or a checkpoint.
extension Trainer {
    /// Every rank made its parameters from the seed.
    ///
    /// Rank 0's are broadcast and the others check theirs are identical.
    ///
    /// That catches ranks started with different options or binaries before they
    /// silently train different models.
    func synchronizeInitialParameters(_ initial: FloatBuffer) throws {
        guard communicator.size > 1 else { return }
        let own = initial.array
        try communicator.broadcast(initial.buffer, from: 0)
        let differs = zip(own, initial.array).contains { $0.bitPattern != $1.bitPattern }
        try communicator.agreeOnFailure(differs
            ? "initial parameters differ from rank 0's: ranks were started with different options or builds" : nil)
    }

    /// Continues from a checkpoint.
    ///
    /// Its parameters, optimizer state and step count replace the freshly initialised
    /// ones.
    ///
    /// The next step is then exactly the step an uninterrupted run would take. Each rank
    /// stores its share (in shared memory, its own range); the first step or evaluation
    /// publishes them before anything reads them. No collective here: a failure above on
    /// one rank must reach the caller's failure agreement.
    public func restore(from checkpoint: Checkpoint) throws {
        guard checkpoint.parameters.count == parameters.count else {
            throw TrainingSetupError("checkpoint holds \(checkpoint.parameters.count) parameters, the model has \(parameters.count)")
        }
        guard checkpoint.optimizerName == optimizer.name else {
            throw TrainingSetupError("checkpoint was trained with \(checkpoint.optimizerName), this run uses \(optimizer.name)")
        }
        for (name, buffer) in optimizer.state {
            guard let saved = checkpoint.optimizerState[name], saved.count == buffer.count else {
                throw TrainingSetupError("checkpoint lacks the \(optimizer.name) state '\(name)'")
            }
        }
        func store(_ values: [Float], into buffer: FloatBuffer) {
            values.withUnsafeBufferPointer { exchange.store($0.baseAddress!, into: buffer) }
        }
        store(checkpoint.parameters, into: parameters)
        for (name, buffer) in optimizer.state { store(checkpoint.optimizerState[name]!, into: buffer) }
        restoredStateUnpublished = true
        step = checkpoint.step
    }

    /// Starts a new run from another run's weights (`--init-from`): the parameters are
    /// replaced, the optimizer state stays fresh and the step count stays 0.
    ///
    /// As `restore`: no collective; the first step publishes them.
    public func initializeParameters(from checkpoint: Checkpoint) throws {
        guard checkpoint.parameters.count == parameters.count else {
            throw TrainingSetupError("checkpoint holds \(checkpoint.parameters.count) parameters, the model has \(parameters.count)")
        }
        checkpoint.parameters.withUnsafeBufferPointer { exchange.store($0.baseAddress!, into: parameters) }
        restoredStateUnpublished = true
    }

    /// After `restore`: every rank's share is in place before anyone reads it.
    func publishRestoredState() throws {
        guard restoredStateUnpublished else { return }
        try exchange.publish()
        restoredStateUnpublished = false
    }
}
