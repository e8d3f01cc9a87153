// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "vae-dist",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "vae-dist", targets: ["vae-dist"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // System libraries, found by pkg-config (scripts/setup.sh installs them).
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5", providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        // oneDNN's C API: Debian's libdnnl-dev ships no pkg-config file (headers in /usr/include, -ldnnl).
        .systemLibrary(name: "CDNNL", providers: [.apt(["libdnnl-dev"])]),
        // zlib reads the gzip-compressed IDX/CSV/NPY inputs of `vae-dist prepare`.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // libdeflate inflates the gzip chunks of data files for the streaming reader (2x zlib's speed).
        .systemLibrary(name: "CDeflate", pkgConfig: "libdeflate", providers: [.apt(["libdeflate-dev"])]),

        // The C edge: functions returning the MPI/HDF5 macros Swift cannot import,
        // and the CPU-control calls (flush-to-zero, BLAS kernel name). No logic.
        .target(name: "CVAESupport", dependencies: ["CMPI", "CHDF5"]),
        // Flush-to-zero for the math threads; kept apart so VAECore sees no MPI/HDF5.
        .target(name: "CVAECPU"),
        // What must run inside a signal handler: the temporary files a stop signal removes.
        .target(name: "CVAEProcess"),
        // The fused elementwise kernels (optimizer updates, Bernoulli loss, ReLU, uint8 features): plain C
        // loops the compiler vectorises for AVX-512/AVX2/SSE2, picked at load time.
        .target(name: "CVAEKernels", cSettings: [
            // sqrtf may set errno, which forbids vectorising it; the kernels never pass a negative.
            .unsafeFlags(["-fno-math-errno"]),
        ]),

        // The version and git commit of the build (BuildInfo), written by a build-tool plugin.
        .plugin(name: "VAEBuildInfoPlugin", capability: .buildTool(), path: "Sources/VAEBuildInfoPlugin"),
        .target(name: "VAEBuildInfo", exclude: ["ArchiveCommit.txt"], plugins: ["VAEBuildInfoPlugin"]),

        // Numerics and the model: no MPI, no HDF5.
        .target(name: "VAECore", dependencies: ["COpenBLAS", "CDNNL", "CVAECPU", "CVAEKernels"]),
        .testTarget(name: "VAECoreTests", dependencies: ["VAECore", "CVAEKernels"]),

        // HDF5 files: the typed wrapper, the data file model, minibatch sources, prepare, inspect.
        .target(name: "VAEIO", dependencies: ["VAECore", "VAEBuildInfo", "CHDF5", "CVAESupport", "CVAECPU", "CVAEProcess",
                                       "CZlib", "CDeflate", "CVAEKernels"]),

        // The communicator (MPI or single process), collective error agreement, the trainer.
        // The only target that imports MPI.
        .target(name: "VAEParallel", dependencies: ["VAECore", "VAEIO", "VAEBuildInfo", "CMPI", "CVAESupport", "CVAEProcess"]),

        // `vae-dist bench`: the SGEMM ceiling, step throughput, allreduce share, memory and
        // allocations of the trainer as it runs (timed from outside, no hooks in it).
        .target(name: "VAEBench", dependencies: ["VAECore", "VAEIO", "VAEParallel", "COpenBLAS"]),

        // The command line: thin, parses and calls the library targets.
        .executableTarget(
            name: "vae-dist",
            dependencies: ["VAECore", "VAEParallel", "VAEIO", "VAEBench", "VAEBuildInfo", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),

        // The test targets depend on the executable so `swift build --build-tests`
        // builds the binary that CLI and multi-rank tests run as a subprocess.
        // What the test targets share: the one process runner (exact status, a signal death
        // and a hang reported as failures), the files tests write and snapshot, prerequisites.
        .target(name: "VAETestSupport", dependencies: ["VAEIO", "CZlib"], path: "Tests/VAETestSupport"),
        .testTarget(name: "VAEIOTests", dependencies: ["VAEIO", "VAETestSupport", "vae-dist"]),
        .testTarget(name: "VAEParallelTests",
                    dependencies: ["VAEParallel", "VAEIO", "VAECore", "VAEBench", "VAEBuildInfo", "VAETestSupport", "vae-dist"]),
    ]
)
