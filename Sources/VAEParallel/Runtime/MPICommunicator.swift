import CMPI
import CVAESupport
import Foundation

/// The communicator over MPI_COMM_WORLD.
///
/// MPI is initialised once per process (MPI_Init_thread, MPI_THREAD_FUNNELED: only the
/// thread that created this object calls MPI; BLAS threads never do) and finalised by
/// an explicit `finalize()` at the end of the program, never by `deinit`, because
/// MPI_Finalize is collective and must happen at the same point on every rank.
///
/// The world communicator's error handler is MPI_ERRORS_RETURN, so a failed call
/// throws `MPIError` with MPI's message instead of killing the job silently.
///
/// Not Sendable: MPI handles are C pointers that belong to the thread that created them.
public final class MPICommunicator: Communicator {
    public let rank: Int
    public let size: Int
    public let backendDescription: String

    private let world: MPI_Comm
    private let creatingThread: pthread_t
    /// Freed (collectively) by `finalize()`, before MPI_Finalize.
    private var nodeGroups: [MPINodeGroup] = []

    /// MPI counts are C ints: larger buffers move in chunks of this many elements.
    static let maximumChunk = Int(Int32.max)

    /// Initialises MPI.
    ///
    /// Throws if MPI was already initialised or finalised in this process: MPI allows
    /// neither a second MPI_Init nor a restart.
    public init() throws {
        if MPICommunicator.isFinalized {
            throw CommunicatorError("MPI was already finalized in this process; it cannot be started again")
        }
        if MPICommunicator.isInitialized {
            throw CommunicatorError("MPI is already initialized in this process; create one MPICommunicator per process")
        }
        var provided: Int32 = 0
        // Before MPI_Init the default handler (MPI_ERRORS_ARE_FATAL) applies: a failed
        // init ends the process with MPI's own message, so the code check is a backstop.
        try MPICommunicator.check(MPI_Init_thread(nil, nil, vae_mpi_thread_funneled(), &provided), "MPI_Init_thread")
        world = vae_mpi_comm_world()
        creatingThread = pthread_self()
        try MPICommunicator.check(MPI_Comm_set_errhandler(world, vae_mpi_errors_return()), "MPI_Comm_set_errhandler")

        var rank: Int32 = 0
        var size: Int32 = 0
        try MPICommunicator.check(MPI_Comm_rank(world, &rank), "MPI_Comm_rank")
        try MPICommunicator.check(MPI_Comm_size(world, &size), "MPI_Comm_size")
        self.rank = Int(rank)
        self.size = Int(size)
        backendDescription = MPICommunicator.libraryVersion()

        if provided < vae_mpi_thread_funneled() && rank == 0 {
            // Still correct in practice (only this thread calls MPI), but worth a word.
            Console.printError("warning: the MPI library offers thread level \(provided), below MPI_THREAD_FUNNELED")
        }
    }

    public func allreduce<Element: CollectiveScalar>(
        _ buffer: UnsafeMutableBufferPointer<Element>, _ reduction: Reduction
    ) throws {
        try checkUsable()
        let type = MPICommunicator.datatype(Element.self)
        let operation = MPICommunicator.operation(reduction)
        for chunk in MPICommunicator.chunks(of: buffer.count) {
            try MPICommunicator.check(
                MPI_Allreduce(UnsafeRawPointer(vae_mpi_in_place()), buffer.baseAddress! + chunk.start,
                              Int32(chunk.count), type, operation, world),
                "MPI_Allreduce")
        }
    }

    public func broadcast<Element: CollectiveScalar>(
        _ buffer: UnsafeMutableBufferPointer<Element>, from root: Int
    ) throws {
        try checkUsable()
        checkRank(root)
        let type = MPICommunicator.datatype(Element.self)
        for chunk in MPICommunicator.chunks(of: buffer.count) {
            try MPICommunicator.check(
                MPI_Bcast(buffer.baseAddress! + chunk.start, Int32(chunk.count), type, Int32(root), world),
                "MPI_Bcast")
        }
    }

    public func gatherv<Element: CollectiveScalar>(
        _ local: UnsafeBufferPointer<Element>, to root: Int
    ) throws -> Gathered<Element>? {
        try checkUsable()
        checkRank(root)
        // Every rank learns every count (not only the root), so that every rank reaches
        // the same verdict on a gather too large for MPI's int displacements and none
        // is left waiting in MPI_Gatherv.
        var counts = [Int64](repeating: 0, count: size)
        var localCount = Int64(local.count)
        try counts.withUnsafeMutableBytes { counts in
            try MPICommunicator.check(
                MPI_Allgather(&localCount, 1, vae_mpi_int64(), counts.baseAddress, 1, vae_mpi_int64(), world),
                "MPI_Allgather")
        }
        let total = counts.reduce(0, +)
        guard total <= Int64(Int32.max) else {
            throw GatherTooLarge(elementCount: Int(total))
        }

        let type = MPICommunicator.datatype(Element.self)
        // MPI reads nothing from an empty send buffer but wants a non-null pointer.
        var placeholder = Element.zero
        return try withUnsafePointer(to: &placeholder) { placeholder in
            let sendAddress = UnsafeRawPointer(local.baseAddress ?? placeholder)
            guard rank == root else {
                try MPICommunicator.check(
                    MPI_Gatherv(sendAddress, Int32(local.count), type, nil, nil, nil, type, Int32(root), world),
                    "MPI_Gatherv")
                return nil
            }
            let receiveCounts = counts.map { Int32($0) }
            var displacements = [Int32](repeating: 0, count: size)
            for index in 1 ..< size {
                displacements[index] = displacements[index - 1] + receiveCounts[index - 1]
            }
            var values = [Element](repeating: .zero, count: Int(total) + 1)  // +1: never a null pointer
            try values.withUnsafeMutableBytes { values in
                try MPICommunicator.check(
                    MPI_Gatherv(sendAddress, Int32(local.count), type, values.baseAddress,
                                receiveCounts, displacements, type, Int32(root), world),
                    "MPI_Gatherv")
            }
            values.removeLast()
            return Gathered(values: values, counts: counts.map { Int($0) })
        }
    }

    public func allgather(_ buffer: UnsafeMutablePointer<Float>, counts: UnsafePointer<Int32>,
                          displacements: UnsafePointer<Int32>) throws {
        try checkUsable()
        try MPICommunicator.check(
            MPI_Allgatherv(UnsafeRawPointer(vae_mpi_in_place()), 0, vae_mpi_float(), buffer, counts, displacements,
                           vae_mpi_float(), world),
            "MPI_Allgatherv")
    }

    public func barrier() throws {
        try checkUsable()
        try MPICommunicator.check(MPI_Barrier(world), "MPI_Barrier")
    }

    public func finalize() throws {
        guard !MPICommunicator.isFinalized else { return }
        for group in nodeGroups { try group.free() }
        nodeGroups.removeAll()
        try MPICommunicator.check(MPI_Finalize(), "MPI_Finalize")
    }

    public func makeNodeGroup(requiringEqualNodes: Bool) throws -> (any NodeGroup)? {
        try checkUsable()
        guard let group = try MPINodeGroup.make(world: world, communicator: self, requiringEqualNodes: requiringEqualNodes) else {
            return nil
        }
        nodeGroups.append(group)
        return group
    }

    public func abort(message: String, code: Int32) -> Never {
        Console.printError(message)
        if !MPICommunicator.isFinalized {
            MPI_Abort(world, code)
        }
        exit(code)  // MPI_Abort does not return; this is for a finalized MPI
    }

    public func startAllreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws -> any PendingCollective {
        try checkUsable()
        precondition(buffer.count <= MPICommunicator.maximumChunk, "a non-blocking allreduce moves at most Int32.max floats")
        var request = vae_mpi_request_null()
        try MPICommunicator.check(
            MPI_Iallreduce(UnsafeRawPointer(vae_mpi_in_place()), buffer.baseAddress!, Int32(buffer.count),
                           vae_mpi_float(), vae_mpi_sum(), world, &request),
            "MPI_Iallreduce")
        return MPIPendingCollective(request: request)
    }

    // MARK: - Checks

    /// A collective after finalize, or from another thread, is a programming error.
    private func checkUsable() throws {
        precondition(!MPICommunicator.isFinalized, "MPI collective called after finalize()")
        precondition(pthread_equal(pthread_self(), creatingThread) != 0,
                     "MPI collective called from a thread other than the one that initialised MPI (MPI_THREAD_FUNNELED)")
    }

    private func checkRank(_ root: Int) {
        precondition((0 ..< size).contains(root), "root rank \(root) is not in 0..<\(size)")
    }

    static var isInitialized: Bool {
        var flag: Int32 = 0
        MPI_Initialized(&flag)
        return flag != 0
    }

    static var isFinalized: Bool {
        var flag: Int32 = 0
        MPI_Finalized(&flag)
        return flag != 0
    }

    static func check(_ code: Int32, _ function: String) throws {
        guard code != vae_mpi_success() else { return }
        var text = [CChar](repeating: 0, count: Int(vae_mpi_max_error_string()) + 1)
        var length: Int32 = 0
        let message = MPI_Error_string(code, &text, &length) == vae_mpi_success()
            ? cString(text, length: length)
            : "unknown MPI error"
        throw MPIError(function: function, code: code, message: message)
    }

    /// The text MPI wrote into `text`.
    ///
    /// Open MPI's `length` may count the terminating NUL, so stop at the first NUL as
    /// well.
    static func cString(_ text: [CChar], length: Int32) -> String {
        let characters = text.prefix(Int(length)).prefix { $0 != 0 }
        return String(decoding: characters.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    // MARK: - Mapping to MPI

    static func datatype<Element: CollectiveScalar>(_: Element.Type) -> MPI_Datatype {
        switch Element.collectiveType {
        case .float32: vae_mpi_float()
        case .float64: vae_mpi_double()
        case .int64: vae_mpi_int64()
        case .uint8: vae_mpi_uint8()
        }
    }

    static func operation(_ reduction: Reduction) -> MPI_Op {
        switch reduction {
        case .sum: vae_mpi_sum()
        case .max: vae_mpi_max()
        case .min: vae_mpi_min()
        }
    }

    /// Lazily: the gradient allreduce runs every step and must not allocate.
    static func chunks(of count: Int) -> LazyMapSequence<StrideTo<Int>, (start: Int, count: Int)> {
        stride(from: 0, to: count, by: maximumChunk).lazy.map { ($0, min(maximumChunk, count - $0)) }
    }

    /// The first line of MPI_Get_library_version, e.g. "Open MPI v4.1.4, package: ...".
    static func libraryVersion() -> String {
        var text = [CChar](repeating: 0, count: Int(vae_mpi_max_library_version_string()) + 1)
        var length: Int32 = 0
        guard MPI_Get_library_version(&text, &length) == vae_mpi_success() else { return "MPI (unknown version)" }
        let version = cString(text, length: length)
        let firstLine = version.split(whereSeparator: \.isNewline).first.map(String.init) ?? "MPI"
        return firstLine.trimmingCharacters(in: .whitespaces)
    }
}

/// An MPI_Iallreduce in flight.
final class MPIPendingCollective: PendingCollective {
    private var request: MPI_Request?
    private var done = false

    init(request: MPI_Request?) { self.request = request }

    func progress() throws -> Bool {
        guard !done else { return true }
        var flag: Int32 = 0
        try MPICommunicator.check(MPI_Test(&request, &flag, vae_mpi_status_ignore()), "MPI_Test")
        done = flag != 0
        return done
    }

    func wait() throws {
        guard !done else { return }
        try MPICommunicator.check(MPI_Wait(&request, vae_mpi_status_ignore()), "MPI_Wait")
        done = true
    }
}
