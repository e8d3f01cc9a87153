/// A rank's own zeroed, page-aligned memory standing in for a node's window.
final class PrivateRegion: NodeSharedMemory {
    let base: UnsafeMutableRawPointer
    let byteCount: Int

    init(byteCount: Int) {
        self.byteCount = byteCount
        base = .allocate(byteCount: max(byteCount, 1), alignment: 4096)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: max(byteCount, 1))
    }

    deinit { base.deallocate() }

    /// Nobody else writes this memory: nothing to wait for.
    func synchronize() throws {}
}
