import CHDF5
import CVAESupport

/// A failure inside the HDF5 library: where it happened (file, object path),
/// what vae-dist was doing, and HDF5's own explanation from its error stack.
public struct HDF5Error: Error, CustomStringConvertible, Sendable {
    public let file: String
    /// Path of the object inside the file (`/features`), nil for the file itself.
    public let object: String?
    /// What vae-dist was doing, e.g. "open file", "read rows 0..<100".
    public let operation: String
    /// HDF5's error stack, outermost (API call) first, innermost (cause) last.
    public let hdf5Messages: [String]

    public var description: String {
        let location = object.map { "\(file): \($0)" } ?? file
        return "\(location): cannot \(operation): \(cause)"
    }

    /// HDF5's explanation, one line.
    public var cause: String {
        hdf5Messages.isEmpty ? "unknown HDF5 error" : Self.summary(of: hdf5Messages)
    }

    /// The API-level message and the innermost cause; the middle of HDF5's stack
    /// repeats them in library-internal terms.
    ///
    /// When the stack holds what the operating system said (a failed read or write: "No
    /// space left on device"), that is the cause, even where HDF5 stacked more of its own
    /// unwinding under it (a failed close ends in "write through metadata accumulator failed").
    static func summary(of messages: [String]) -> String {
        var distinct: [String] = []
        for message in messages.map(readable) where !distinct.contains(message) { distinct.append(message) }
        if let systemError = messages.last(where: { $0.contains(systemErrorMarker) }).map(readable),
           distinct.last != systemError {
            distinct.removeAll { $0 == systemError }
            distinct.append(systemError)
        }
        if distinct.count <= 2 { return distinct.joined(separator: ": ") }
        return "\(distinct.first!): ...: \(distinct.last!)"
    }

    /// What HDF5's POSIX driver writes before the operating system's message.
    private static let systemErrorMarker = "error message = '"


    /// One line, and for a failed POSIX read or write only what the OS said: HDF5's text
    /// there is "file write failed: time = <ctime with a newline>, filename = ..., errno = 28,
    /// error message = 'No space left on device', buf = 0x..., ..." .
    static func readable(_ message: String) -> String {
        let flat = message.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .joined(separator: " ")
        guard let start = flat.range(of: systemErrorMarker),
              let end = flat[start.upperBound...].firstIndex(of: "'") else { return flat }
        let head = flat[..<(flat.firstIndex(of: ":") ?? flat.endIndex)]
        return "\(head): \(flat[start.upperBound..<end])"
    }
}

extension HDF5Library {
    /// Reads and clears HDF5's error stack. Call with the library lock held,
    /// right after the failing call (the stack is global in a serial build).
    static func takeErrorStack() -> [String] {
        final class Collector { var messages: [String] = [] }
        let collector = Collector()
        let context = Unmanaged.passUnretained(collector).toOpaque()
        _ = H5Ewalk2(vae_h5e_default(), H5E_WALK_DOWNWARD, { _, entry, context in
            guard let entry, let context else { return 0 }
            let collector = Unmanaged<Collector>.fromOpaque(context).takeUnretainedValue()
            if let text = entry.pointee.desc {
                let message = String(cString: text).trimmingCharacters(in: .whitespaces)
                if !message.isEmpty { collector.messages.append(message) }
            }
            return 0
        }, context)
        _ = H5Eclear2(vae_h5e_default())
        return withExtendedLifetime(collector) { collector.messages }
    }
}
