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
}

extension BatchGroup {
    /// The request that replays this group's pushes at the gateway.
    package func request() -> FlushRequest {
        switch operation {
        case .delete:
            return FlushRequest(method: .delete, path: grouping.path, body: [], entries: 0)
        case .merge, .replace:
            var writer = ExpositionWriter(format: .text, capacity: 256 + entryCount * 64)
            render(into: &writer)
            return FlushRequest(method: operation == .merge ? .post : .put, path: grouping.path, body: writer.bytes, entries: entryCount)
        }
    }

    /// Writes every family once, sorted: merged series with their `clearmode`, then the
    /// family's pebble observations as repeated lines with timestamps.
    package func render(into writer: inout ExpositionWriter) {
        var names = Set(state.families.keys)
        names.formUnion(pebbles.families.keys)
        for name in names.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            let family = state.families[name]
            let pebbleFamily = pebbles.families[name]
            let type = family?.type ?? pebbleFamily!.type
            let names = writer.names(family: name, type: type)
            writer.writeHeader(metadataName: names.metadata, type: type, help: family?.help ?? pebbleFamily?.help)
            if var stored = family {
                for key in stored.sortedKeys() {
                    let series = stored.series[key]!
                    let mode: ClearMode = stored.replaced ? .family : series.mode
                    writer.writeSeries(
                        name: names.sample, type: type, key: key, value: series.value, extraLabel: Self.modeLabel(mode))
                }
            }
            for observation in pebbleFamily?.observations ?? [] {
                writer.writeSeries(
                    name: names.sample, type: type, key: observation.key, value: .scalar(observation.value),
                    extraLabel: Self.modeLabel(observation.mode), timestampMs: observation.timestampMs)
            }
        }
    }

    static func modeLabel(_ mode: ClearMode) -> [UInt8] {
        Array("clearmode=\"\(mode)\"".utf8)
    }
}
