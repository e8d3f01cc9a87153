import CDNNL
import CVAEKernels

/// GEMMs on oneDNN's matmul primitive, in float32 or with bfloat16 inputs.
///
/// The layers' shapes change from step to step (active units, dormant units, a short last
/// batch), and creating a primitive for a shape costs 1-40 ms of JIT. So the primitives
/// are made once, with every dimension and stride given at run time: one per
/// (op(A), op(B), beta) for the engine's precision, eight in all, before the first step.
/// oneDNN runs them with its JIT GEMM kernels (`gemm:jit`), the rates of docs/performance.md.
///
/// Every call is cut into blocks of at most `maximumRows` rows of C, and a block of fewer
/// than `minimumRows` rows (or a C narrower than `minimumColumns`) runs padded with zeros
/// to that size. Each element of C is then summed in the same order however many rows the
/// call holds, which oneDNN alone does not do (docs/performance.md, "oneDNN"): its float32
/// GEMM picks other kernels below 16 rows and above about 200 at K = 784, and a single
/// row or column takes its GEMV. `GEMMRowInvariance` checks this at start-up.
///
/// In bf16, A and B are rounded into staging buffers (`vae_round_to_bfloat16`) before each
/// call. Buffers and oneDNN memory objects are kept between calls: a steady-state step
/// makes none. oneDNN's own execute call still allocates its argument map and its GEMM's
/// packing buffer (a few small blocks per call; docs/performance.md).
public final class OneDNNGEMM: GEMMEngine {
    public let backend = GEMMBackend.onednn
    public let precision: GEMMPrecision
    public static let minimumRows = 16
    public static let maximumRows = 128
    public static let minimumColumns = 16

    private let engine: dnnl_engine_t
    private let stream: dnnl_stream_t
    /// Index `primitiveIndex(transposeA:transposeB:accumulate:)`.
    private var primitives: [dnnl_primitive_t] = []
    private var memories: [OperandLayout: dnnl_memory_t] = [:]
    private let arguments = UnsafeMutablePointer<dnnl_exec_arg_t>.allocate(capacity: 3)
    private let roundedA = StagingBuffer(), roundedB = StagingBuffer()
    private let paddedA = StagingBuffer(), paddedB = StagingBuffer(), paddedC = StagingBuffer()

    /// The engine, its stream and its eight primitives. Throws for bf16 where oneDNN's CPU
    /// has no AVX512_BF16 (also when capped below it with ONEDNN_MAX_CPU_ISA).
    public init(precision: GEMMPrecision) throws {
        self.precision = precision
        if precision == .bf16 && !Self.hasBFloat16Instructions {
            throw GEMMSetupError("--precision bf16 needs a CPU with AVX512_BF16 instructions; oneDNN runs "
                                 + "\(Self.instructionSetName) here: use --precision fp32")
        }
        var engine: dnnl_engine_t?
        var stream: dnnl_stream_t?
        try Self.check(dnnl_engine_create(&engine, dnnl_cpu, 0), "create a CPU engine")
        try Self.check(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue),
                       "create a stream")
        self.engine = engine!
        self.stream = stream!
        for index in 0..<8 {
            primitives.append(try makePrimitive(transposeA: index & 4 != 0, transposeB: index & 2 != 0,
                                                accumulate: index & 1 != 0))
        }
    }

    deinit {
        primitives.forEach { dnnl_primitive_destroy($0) }
        memories.values.forEach { dnnl_memory_destroy($0) }
        dnnl_stream_destroy(stream)
        dnnl_engine_destroy(engine)
        arguments.deallocate()
    }

    /// Whether oneDNN may use bfloat16 dot-product instructions (AVX512_BF16) on this CPU.
    public static var hasBFloat16Instructions: Bool {
        let bf16 = dnnl_cpu_isa_avx512_core_bf16.rawValue
        return dnnl_get_effective_cpu_isa().rawValue & bf16 == bf16
    }

    /// oneDNN's name for the instructions it uses here (e.g. "avx512_core_bf16").
    public static var instructionSetName: String {
        let isa = dnnl_get_effective_cpu_isa()
        let names: [(dnnl_cpu_isa_t, String)] = [
            (dnnl_cpu_isa_avx512_core_amx, "avx512_core_amx"), (dnnl_cpu_isa_avx512_core_bf16, "avx512_core_bf16"),
            (dnnl_cpu_isa_avx512_core_vnni, "avx512_core_vnni"), (dnnl_cpu_isa_avx512_core, "avx512_core"),
            (dnnl_cpu_isa_avx2_vnni, "avx2_vnni"), (dnnl_cpu_isa_avx2, "avx2"), (dnnl_cpu_isa_avx, "avx"),
            (dnnl_cpu_isa_sse41, "sse41"),
        ]
        return names.first { $0.0.rawValue == isa.rawValue }?.1 ?? "isa 0x\(String(isa.rawValue, radix: 16))"
    }

    public func multiply(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                         a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                         beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        precondition(alpha == 1, "the oneDNN engine multiplies with alpha = 1 (as every layer does)")
        precondition(beta == 0 || beta == 1, "the oneDNN engine handles beta 0 or 1")
        // op(B) is the same for every row block: round it once.
        let right = operand(b, rows: transposeB ? n : k, columns: transposeB ? k : n, stride: ldb, staging: roundedB)
        var first = 0
        while first < m {
            let rows = min(Self.maximumRows, m - first)
            let left = operand(transposeA ? a + first : a + first * lda, rows: transposeA ? k : rows,
                               columns: transposeA ? rows : k, stride: lda, staging: roundedA)
            let block = Block(transposeA: transposeA, transposeB: transposeB, rows: rows, columns: n, depth: k,
                              accumulate: beta == 1, a: left, b: right,
                              c: MatrixOperand(UnsafeMutableRawPointer(c + first * ldc), stride: ldc))
            if rows >= Self.minimumRows && n >= Self.minimumColumns {
                execute(block)
            } else {
                executePadded(block)
            }
            first += rows
        }
    }

    // MARK: Operands

    /// A row-major matrix in memory: its first element and its row stride, in elements.
    struct MatrixOperand {
        var pointer: UnsafeMutableRawPointer
        var stride: Int
        init(_ pointer: UnsafeMutableRawPointer, stride: Int) {
            self.pointer = pointer
            self.stride = stride
        }
    }

    /// One oneDNN call: C [rows, columns] (+)= op(A) [rows, depth] op(B) [depth, columns],
    /// A and B stored as the engine's precision needs them (float32, or rounded to bf16).
    struct Block {
        var transposeA: Bool, transposeB: Bool
        var rows: Int, columns: Int, depth: Int
        var accumulate: Bool
        var a: MatrixOperand, b: MatrixOperand, c: MatrixOperand
    }

    private var elementSize: Int { precision == .bf16 ? 2 : 4 }

    /// `matrix` [rows, columns] (row stride `stride`) as a GEMM input: itself in fp32, its
    /// bf16 rounding (packed rows) in `staging` in bf16.
    private func operand(_ matrix: UnsafePointer<Float>, rows: Int, columns: Int, stride: Int,
                         staging: StagingBuffer) -> MatrixOperand {
        guard precision == .bf16 else { return MatrixOperand(UnsafeMutableRawPointer(mutating: matrix), stride: stride) }
        let rounded = staging.reserve(bytes: rows * columns * 2).assumingMemoryBound(to: UInt16.self)
        vae_round_to_bfloat16(matrix, stride, rows, columns, rounded, columns)
        return MatrixOperand(UnsafeMutableRawPointer(rounded), stride: columns)
    }

    // MARK: Execution

    private func primitiveIndex(transposeA: Bool, transposeB: Bool, accumulate: Bool) -> Int {
        (transposeA ? 4 : 0) + (transposeB ? 2 : 0) + (accumulate ? 1 : 0)
    }

    private func execute(_ block: Block) {
        let aLayout = OperandLayout(role: .a, rows: block.rows, columns: block.depth, stride: block.a.stride,
                                    transposed: block.transposeA, isBFloat16: precision == .bf16)
        let bLayout = OperandLayout(role: .b, rows: block.depth, columns: block.columns, stride: block.b.stride,
                                    transposed: block.transposeB, isBFloat16: precision == .bf16)
        let cLayout = OperandLayout(role: .c, rows: block.rows, columns: block.columns, stride: block.c.stride,
                                    transposed: false, isBFloat16: false)
        let (aMemory, bMemory, cMemory) = (memory(aLayout), memory(bLayout), memory(cLayout))
        dnnl_memory_set_data_handle(aMemory, block.a.pointer)
        dnnl_memory_set_data_handle(bMemory, block.b.pointer)
        dnnl_memory_set_data_handle(cMemory, block.c.pointer)
        arguments[0] = dnnl_exec_arg_t(arg: DNNL_ARG_SRC, memory: aMemory)
        arguments[1] = dnnl_exec_arg_t(arg: DNNL_ARG_WEIGHTS, memory: bMemory)
        arguments[2] = dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: cMemory)
        let primitive = primitives[primitiveIndex(transposeA: block.transposeA, transposeB: block.transposeB,
                                                  accumulate: block.accumulate)]
        let status = dnnl_primitive_execute(primitive, stream, 3, arguments)
        precondition(status == dnnl_success, "oneDNN matmul failed with status \(status.rawValue) "
                     + "(\(block.rows) x \(block.columns) x \(block.depth))")
    }

    /// `execute` on copies padded with zero rows to `minimumRows` and zero columns of
    /// op(B) and C to `minimumColumns`; the block's own rows and columns are copied back.
    /// The padding adds only zeros to nothing: each real element's sum is unchanged.
    private func executePadded(_ block: Block) {
        let rows = max(block.rows, Self.minimumRows)
        let columns = max(block.columns, Self.minimumColumns)
        let size = elementSize
        var padded = block
        padded.rows = rows
        padded.columns = columns
        // op(A) [rows, depth]: stored [depth, rows] when transposed.
        let (aRows, aColumns) = block.transposeA ? (block.depth, block.rows) : (block.rows, block.depth)
        let (aPaddedRows, aPaddedColumns) = block.transposeA ? (block.depth, rows) : (rows, block.depth)
        padded.a = MatrixOperand(paddedA.reserve(bytes: aPaddedRows * aPaddedColumns * size), stride: aPaddedColumns)
        copyPadded(block.a, rows: aRows, columns: aColumns, into: padded.a, paddedRows: aPaddedRows,
                   paddedColumns: aPaddedColumns, elementSize: size)
        if columns != block.columns {
            // op(B) [depth, columns]: stored [columns, depth] when transposed.
            let (bRows, bColumns) = block.transposeB ? (block.columns, block.depth) : (block.depth, block.columns)
            let (bPaddedRows, bPaddedColumns) = block.transposeB ? (columns, block.depth) : (block.depth, columns)
            padded.b = MatrixOperand(paddedB.reserve(bytes: bPaddedRows * bPaddedColumns * size), stride: bPaddedColumns)
            copyPadded(block.b, rows: bRows, columns: bColumns, into: padded.b, paddedRows: bPaddedRows,
                       paddedColumns: bPaddedColumns, elementSize: size)
        }
        padded.c = MatrixOperand(paddedC.reserve(bytes: rows * columns * 4), stride: columns)
        copyPadded(block.c, rows: block.accumulate ? block.rows : 0, columns: block.columns, into: padded.c,
                   paddedRows: rows, paddedColumns: columns, elementSize: 4)
        execute(padded)
        for row in 0..<block.rows {
            (block.c.pointer + row * block.c.stride * 4).copyMemory(from: padded.c.pointer + row * columns * 4,
                                                                    byteCount: block.columns * 4)
        }
    }

    /// destination [paddedRows, paddedColumns] = source [rows, columns], zeros elsewhere.
    private func copyPadded(_ source: MatrixOperand, rows: Int, columns: Int, into destination: MatrixOperand,
                            paddedRows: Int, paddedColumns: Int, elementSize size: Int) {
        for row in 0..<paddedRows {
            let target = destination.pointer + row * destination.stride * size
            let copied = row < rows ? columns : 0
            if copied > 0 { target.copyMemory(from: source.pointer + row * source.stride * size, byteCount: copied * size) }
            (target + copied * size).initializeMemory(as: UInt8.self, repeating: 0, count: (paddedColumns - copied) * size)
        }
    }

    // MARK: oneDNN objects

    /// A 2-D operand as oneDNN describes it: logical [rows, columns] of the product, stored
    /// row-major with `stride`, or column-major (`transposed`: the matrix as stored is its transpose).
    /// The role is part of the key: A, B and C of one call need three memory objects even
    /// when their layouts coincide (each carries its own data handle).
    struct OperandLayout: Hashable {
        enum Role { case a, b, c }
        var role: Role
        var rows: Int, columns: Int, stride: Int
        var transposed: Bool
        var isBFloat16: Bool
    }

    /// The memory object of `layout`, made the first time the layout is seen; the data
    /// handle is set per call.
    private func memory(_ layout: OperandLayout) -> dnnl_memory_t {
        if let memory = memories[layout] { return memory }
        var descriptor = Self.descriptor(rows: layout.rows, columns: layout.columns, stride: layout.stride,
                                         transposed: layout.transposed, isBFloat16: layout.isBFloat16)
        var memory: dnnl_memory_t?
        let status = dnnl_memory_create(&memory, &descriptor, engine, nil)
        precondition(status == dnnl_success, "oneDNN could not describe a \(layout.rows) x \(layout.columns) operand "
                     + "(status \(status.rawValue))")
        memories[layout] = memory!
        return memory!
    }

    private static func descriptor(rows: Int, columns: Int, stride: Int, transposed: Bool,
                                   isBFloat16: Bool) -> dnnl_memory_desc_t {
        var descriptor = dnnl_memory_desc_t()
        let dimensions: [dnnl_dim_t] = [dnnl_dim_t(rows), dnnl_dim_t(columns)]
        let strides: [dnnl_dim_t] = transposed ? [1, dnnl_dim_t(stride)] : [dnnl_dim_t(stride), 1]
        let status = dnnl_memory_desc_init_by_strides(&descriptor, 2, dimensions, isBFloat16 ? dnnl_bf16 : dnnl_f32,
                                                      strides)
        precondition(status == dnnl_success, "oneDNN rejected a \(rows) x \(columns) operand (status \(status.rawValue))")
        return descriptor
    }

    /// A matmul primitive with run-time dimensions and strides (the same layout kinds as `execute` uses).
    private func makePrimitive(transposeA: Bool, transposeB: Bool, accumulate: Bool) throws -> dnnl_primitive_t {
        let any = Int(Int64.min)  // DNNL_RUNTIME_DIM_VAL
        var a = Self.descriptor(rows: any, columns: any, stride: any, transposed: transposeA, isBFloat16: precision == .bf16)
        var b = Self.descriptor(rows: any, columns: any, stride: any, transposed: transposeB, isBFloat16: precision == .bf16)
        var c = Self.descriptor(rows: any, columns: any, stride: any, transposed: false, isBFloat16: false)
        var operation = dnnl_matmul_desc_t()
        try Self.check(dnnl_matmul_desc_init(&operation, &a, &b, nil, &c), "describe a matmul")
        var attributes: dnnl_primitive_attr_t?
        try Self.check(dnnl_primitive_attr_create(&attributes), "create primitive attributes")
        defer { dnnl_primitive_attr_destroy(attributes) }
        if accumulate {
            var postOps: dnnl_post_ops_t?
            try Self.check(dnnl_post_ops_create(&postOps), "create post-ops")
            defer { dnnl_post_ops_destroy(postOps) }
            try Self.check(dnnl_post_ops_append_sum(postOps, 1), "add C to the product")
            try Self.check(dnnl_primitive_attr_set_post_ops(attributes, postOps), "set post-ops")
        }
        var descriptor: dnnl_primitive_desc_t?
        try Self.check(withUnsafePointer(to: &operation) {
            dnnl_primitive_desc_create(&descriptor, UnsafeRawPointer($0), attributes, engine, nil)
        }, "find a \(precision.rawValue) matmul implementation")
        defer { dnnl_primitive_desc_destroy(descriptor) }
        var primitive: dnnl_primitive_t?
        try Self.check(dnnl_primitive_create(&primitive, descriptor), "create a matmul primitive")
        return primitive!
    }

    private static func check(_ status: dnnl_status_t, _ what: String) throws {
        guard status != dnnl_success else { return }
        throw GEMMSetupError("oneDNN could not \(what) (status \(status.rawValue))")
    }
}

/// A buffer that keeps its largest size: reserving no more than before allocates nothing.
final class StagingBuffer {
    private var storage: UnsafeMutableRawPointer?
    private var capacity = 0

    func reserve(bytes: Int) -> UnsafeMutableRawPointer {
        if bytes > capacity {
            storage?.deallocate()
            capacity = max(bytes, 64)
            storage = .allocate(byteCount: capacity, alignment: 64)
        }
        return storage!
    }

    deinit { storage?.deallocate() }
}
