import CVAECPU
import Foundation
import XCTest
import VAETestSupport

/// `vae_loop_guard` counts the guarded thread's CPU time, not the wall clock: a read that
/// waits (a slow disk, a busy file system) is never ended, and nothing is counted once
/// disarmed. (That it ends a thread spinning past its limit, with its line and status 1,
/// is shown on the real binary by `CorruptCheckpointCommandTests`: here it would end the
/// test process.)
final class LoopGuardTests: XCTestCase {
    func testWaitingAndDisarmedWorkAreNotCounted() {
        XCTAssertEqual(vae_loop_guard_arm(0.3, "LoopGuardTests: waiting was counted as CPU"), 0)
        Thread.sleep(forTimeInterval: 1.0)  // 1 s of wall time, ~0 s of CPU
        XCTAssertEqual(vae_loop_guard_arm(0.3, "nested"), 0)  // nests: the outer limit stands
        vae_loop_guard_disarm()
        vae_loop_guard_disarm()
        let start = Date()
        var spin = 0.0
        while Date().timeIntervalSince(start) < 0.8 { spin += sin(spin) + 1 }  // CPU, disarmed
        XCTAssertGreaterThan(spin, 0)
        XCTAssertEqual(vae_loop_guard_arm(0.3, "LoopGuardTests: an earlier arm's CPU was counted"), 0)
        vae_loop_guard_disarm()
    }
}
