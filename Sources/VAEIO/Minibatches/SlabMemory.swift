import CVAECPU
import Foundation

/// The read-ahead's memory, mapped by every rank of a node (or one rank's own): the slabs
/// that decoded blocks land in, and the words the ranks coordinate through.
///
/// Layout: word 0 names the first rank that failed a load (local rank + 1, or 0), word 1
/// the length of its message; a completed-steps counter per local rank, each on its own
/// 64-byte line; a tag per slab (the tag of the load that filled it; minus it when that
/// load failed); the failure message; then the page-aligned slabs.
final class SlabMemory: @unchecked Sendable {
    let slabCount: Int
    let slabBytes: Int
    let localSize: Int
    private let words: UnsafeMutablePointer<Int64>
    private let message: UnsafeMutablePointer<UInt8>
    private let slabs: UnsafeMutableRawPointer
    /// Bytes of the whole region.
    let byteCount: Int

    private static let messageBytes = 4096
    private static let wordsPerLine = 8

    init(sharing: NodeSharing, slabCount: Int, slabBytes: Int) throws {
        self.slabCount = slabCount
        self.slabBytes = (slabBytes + 63) / 64 * 64
        localSize = sharing.localSize
        let wordCount = Self.wordsPerLine * (1 + localSize) + slabCount
        let header = (wordCount * 8 + Self.messageBytes + 4095) / 4096 * 4096
        byteCount = header + slabCount * self.slabBytes
        let base = try sharing.allocate(byteCount: byteCount)
        words = base.assumingMemoryBound(to: Int64.self)
        message = (base + wordCount * 8).assumingMemoryBound(to: UInt8.self)
        slabs = base + header
    }

    func slab(_ index: Int) -> UnsafeMutableRawPointer { slabs + index * slabBytes }

    private func progressWord(_ rank: Int) -> UnsafeMutablePointer<Int64> { words + Self.wordsPerLine * (1 + rank) }
    private func tagWord(_ slab: Int) -> UnsafeMutablePointer<Int64> { words + Self.wordsPerLine * (1 + localSize) + slab }

    func tag(ofSlab slab: Int) -> Int64 { vae_atomic_load(tagWord(slab)) }
    /// Publishes a load: its slab's bytes are complete (release order).
    func setTag(_ tag: Int64, ofSlab slab: Int) { vae_atomic_store(tagWord(slab), tag) }

    func completedSteps(ofRank rank: Int) -> Int64 { vae_atomic_load(progressWord(rank)) }
    func setCompletedSteps(_ steps: Int64, ofRank rank: Int) { vae_atomic_store(progressWord(rank), steps) }

    /// Steps every local rank has completed.
    func completedStepsOfEveryRank() -> Int64 {
        (0..<localSize).map { completedSteps(ofRank: $0) }.min() ?? 0
    }

    /// Records the first failed load's message for every rank of the node to report.
    func reportFailure(_ text: String, localRank: Int) {
        guard vae_atomic_compare_exchange(words, 0, Int64(localRank + 1)) != 0 else { return }
        let bytes = Array(text.utf8.prefix(Self.messageBytes))
        bytes.withUnsafeBufferPointer { message.update(from: $0.baseAddress!, count: bytes.count) }
        vae_atomic_store(words + 1, Int64(bytes.count))
    }

    /// The first failed load's message and the local rank that hit it, once written.
    func failure() -> (localRank: Int, message: String)? {
        let owner = vae_atomic_load(words)
        let length = vae_atomic_load(words + 1)
        guard owner > 0, length > 0 else { return nil }
        return (Int(owner) - 1, String(decoding: UnsafeBufferPointer(start: message, count: Int(length)), as: UTF8.self))
    }
}
