import Shared

/// One request of a flush.
package struct FlushRequest: Sendable {
    package var method: PushMethod
    /// The push path, `/metrics/job/...`.
    package var path: String
    /// Text format 0.0.4 with `clearmode` labels; empty for a DELETE.
    package var body: [UInt8]
    /// Series and observations the request carries, for drop accounting.
    package var entries: Int
    /// Text 0.0.4, or delimited protobuf when the group holds native histograms (only
    /// protobuf carries them).
    package var contentType = ExpositionWriter(format: .text, capacity: 0).contentType
}

extension BatchGroup {
    /// The request that replays this group's pushes at the gateway.
    ///
    /// - Parameter utf8Names: the batch may hold UTF-8 names (`GRAVEL_UTF8_NAMES`), sent
    ///   quoted (text 1.0.0) and `U__`-escaped in the path, as the gateway reads them.
    package func request(utf8Names: Bool = false) -> FlushRequest {
        switch operation {
        case .delete:
            return FlushRequest(method: .delete, path: grouping.path, body: [], entries: 0)
        case .merge, .replace:
            let method: PushMethod = operation == .merge ? .post : .put
            if state.holdsNativeHistograms {
                var writer = ProtobufWriter(capacity: 256 + entryCount * 64)
                if utf8Names { writer.nameEscaping = .allowUTF8 }
                render(into: &writer)
                writer.finish()
                return FlushRequest(
                    method: method, path: grouping.path, body: writer.takeBytes(), entries: entryCount, contentType: writer.contentType)
            }
            var writer = ExpositionWriter(format: .text, capacity: 256 + entryCount * 64)
            if utf8Names { writer.nameEscaping = .allowUTF8 }
            render(into: &writer)
            return FlushRequest(
                method: method, path: grouping.path, body: writer.bytes, entries: entryCount, contentType: writer.contentType)
        }
    }

    /// Writes every family once, sorted, each series with the `clearmode` that replays its
    /// merge: pebble observations as repeated lines with their timestamps; series of a
    /// family replaced by a `family` push as `family`.
    package func render(into writer: inout ExpositionWriter) {
        var state = self.state
        // A batch keeps pebble observations verbatim, so the time does not matter here.
        state.render(into: &writer, clearModes: true, nowMs: 0)
    }

    /// The same in protobuf, for groups that hold native histograms.
    package func render(into writer: inout ProtobufWriter) {
        var state = self.state
        state.render(into: &writer, clearModes: true, nowMs: 0)
    }
}
