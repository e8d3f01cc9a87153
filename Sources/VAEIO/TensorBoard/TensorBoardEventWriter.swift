import Foundation

/// Writes a TensorBoard event file: scalars and images of a run, as `tensorboard --logdir`
/// and its Python event reader read them (docs/training.md).
///
/// An event file is a TFRecord file of `Event` protocol buffers: each record is its length
/// (uint64), the masked CRC-32C of the length, the bytes, and their masked CRC-32C. The first
/// event names the file version; each later one carries a wall time, a step and a `Summary`.
/// Events are kept in memory until `flush` appends them with one write (once per epoch).
public final class TensorBoardEventWriter {
    /// What TensorBoard's loader looks for in a file name.
    public static let fileNamePrefix = "events.out.tfevents."

    public let path: String
    private var pending: [UInt8] = []

    /// A new event file in `directory`, named as TensorBoard expects
    /// (`events.out.tfevents.<seconds>.<host>.vae-dist`); the directory must exist.
    public init(directory: String, wallTime: Double = Date().timeIntervalSince1970) throws {
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "host"
        var name = "\(Self.fileNamePrefix)\(Int(wallTime)).\(host).vae-dist"
        var suffix = 1
        while FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent(name)) {
            suffix += 1
            name = "\(Self.fileNamePrefix)\(Int(wallTime)).\(host).vae-dist.\(suffix)"
        }
        path = (directory as NSString).appendingPathComponent(name)
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw DataError(file: path, "cannot create the TensorBoard event file: \(String(cString: strerror(errno)))")
        }
        var event = ProtobufMessage()
        event.double(1, wallTime)          // Event.wall_time
        event.string(3, "brain.Event:2")  // Event.file_version
        append(event)
        try flush()
    }

    /// A scalar `value` of `tag` at `step` (Summary.Value.simple_value).
    public func scalar(_ tag: String, _ value: Double, step: Int, wallTime: Double = Date().timeIntervalSince1970) {
        var summaryValue = ProtobufMessage()
        summaryValue.string(1, tag)        // Summary.Value.tag
        summaryValue.float(2, Float(value)) // Summary.Value.simple_value
        append(summaryEvent(summaryValue, step: step, wallTime: wallTime))
    }

    /// A PNG picture of `tag` at `step` (Summary.Value.image).
    public func image(_ tag: String, png: [UInt8], width: Int, height: Int, channels: Int, step: Int,
                      wallTime: Double = Date().timeIntervalSince1970) {
        var image = ProtobufMessage()
        image.int(1, Int64(height))        // Summary.Image.height
        image.int(2, Int64(width))         // Summary.Image.width
        image.int(3, Int64(channels))      // Summary.Image.colorspace: 1 gray, 3 RGB
        image.bytes(4, png)                // Summary.Image.encoded_image_string
        var summaryValue = ProtobufMessage()
        summaryValue.string(1, tag)
        summaryValue.message(4, image)     // Summary.Value.image
        append(summaryEvent(summaryValue, step: step, wallTime: wallTime))
    }

    private func summaryEvent(_ value: ProtobufMessage, step: Int, wallTime: Double) -> ProtobufMessage {
        var summary = ProtobufMessage()
        summary.message(1, value)          // Summary.value
        var event = ProtobufMessage()
        event.double(1, wallTime)          // Event.wall_time
        event.int(2, Int64(step))          // Event.step
        event.message(5, summary)          // Event.summary
        return event
    }

    private func append(_ event: ProtobufMessage) {
        pending += TensorBoardRecords.frame(event.bytes)
    }

    /// Drops the events after `step` from every event file in `directory` (a run resumed
    /// from the checkpoint at `step` logs what the uninterrupted run would have, once).
    public static func truncateRun(directory: String, afterStep step: Int) throws {
        try TensorBoardRecords.truncate(directory: directory, afterStep: step)
    }

    /// Appends the events written since the last flush to the file, in one write.
    public func flush() throws {
        guard !pending.isEmpty else { return }
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw DataError(file: path, "cannot open the TensorBoard event file to append: \(String(cString: strerror(errno)))")
        }
        defer { try? handle.close() }
        do {
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(pending))
        } catch {
            throw DataError(file: path, "cannot append to the TensorBoard event file: \(error.localizedDescription)")
        }
        pending.removeAll(keepingCapacity: true)
    }
}
