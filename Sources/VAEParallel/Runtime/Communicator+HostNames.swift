import Foundation

/// This machine's host name (gethostname; no DNS lookup, which can stall on clusters).
public func currentHostName() -> String {
    var name = [CChar](repeating: 0, count: 256)
    guard gethostname(&name, name.count - 1) == 0 else { return "unknown-host" }
    return String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

extension Communicator {
    /// Every rank's host name, indexed by rank, on `root`; nil on the other ranks.
    public func gatherHostNames(to root: Int = 0) throws -> [String]? {
        let local = Array(currentHostName().utf8)
        guard let gathered = try local.withUnsafeBufferPointer({ try gatherv($0, to: root) }) else {
            return nil
        }
        return (0 ..< size).map { String(decoding: gathered.part(ofRank: $0), as: UTF8.self) }
    }
}
