import Shared

/// The Pushgateway's JSON API (`GET /api/v1/metrics`, `GET /api/v1/status`), same shapes.
///
/// Scripts and dashboards written against the Pushgateway read these; so every field
/// keeps its name, every value its Go spelling (strings, `1.234567e+06`), and every object
/// its key order (Go's encoder sorts map keys). What is Gravel's own shows through only in
/// the values: a pebble series reports its window's current aggregate, and a family's
/// `time_stamp` is its group's last push (Gravel keeps push times per group).
enum PushgatewayAPI {

    /// `{"status":"success","data":[group, ...]}`, groups in key order.
    static func metrics(_ snapshot: MetricStore.Snapshot, now: Double) -> [UInt8] {
        var json = JSONWriter(capacity: 1 << 16)
        json.beginObject()
        json.field("status", "success")
        json.key("data")
        json.beginArray()
        let nowMs = Int64((now * 1000).rounded())
        for groupKey in snapshot.sortedGroupKeys {
            guard let group = snapshot.groups[groupKey] else { continue }
            write(group, into: &json, nowMs: nowMs)
        }
        json.endArray()
        json.endObject()
        return json.bytes
    }

    /// The names the gateway writes into every group, as the Pushgateway does.
    static let pushTimeName = "push_time_seconds"
    static let pushFailureTimeName = "push_failure_time_seconds"

    static func write(_ group: MetricStore.Group, into json: inout JSONWriter, nowMs: Int64) {
        // A group object holds `labels`, `last_push_successful` and one key per family,
        // the gateway's two time families included, all sorted as Go sorts map keys.
        enum Entry {
            case labels, lastPushSuccessful, pushTime, pushFailureTime
            case family(String)
        }
        var entries: [(String, Entry)] = [
            ("labels", .labels), ("last_push_successful", .lastPushSuccessful),
            (pushTimeName, .pushTime), (pushFailureTimeName, .pushFailureTime),
        ]
        for name in group.state.families.keys {
            // A pushed family named like a fixed key takes its place, as in the Pushgateway's map.
            entries.removeAll { $0.0 == name }
            entries.append((name, .family(name)))
        }
        entries.sort { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }

        let groupLabels = group.grouping.labels.map { ($0.name, $0.value) }
        // The time series of the two time families carry the grouping labels.
        let timeLabels = LabelKey.withEmptyInstance(groupLabels)
        let pushTime = group.pushTimeSeconds
        let failureTime = group.pushFailureTimeSeconds
        json.beginObject()
        for (name, entry) in entries {
            json.key(name)
            switch entry {
            case .labels:
                json.stringObject(groupLabels)
            case .lastPushSuccessful:
                json.bool(failureTime <= pushTime)
            case .pushTime:
                timeFamily(
                    into: &json, stamp: pushTime, labels: timeLabels, value: pushTime,
                    help: "Last Unix time when changing this group in the Pushgateway succeeded.")
            case .pushFailureTime:
                timeFamily(
                    into: &json, stamp: max(pushTime, failureTime), labels: timeLabels, value: failureTime,
                    help: "Last Unix time when changing this group in the Pushgateway failed.")
            case .family(let familyName):
                write(group.state.families[familyName]!, stamp: pushTime, into: &json, nowMs: nowMs)
            }
        }
        json.endObject()
    }

    static func timeFamily(into json: inout JSONWriter, stamp: Double, labels: [(String, String)], value: Double, help: String) {
        json.beginObject()
        json.field("time_stamp", RFC3339Time.string(stamp))
        json.field("type", "GAUGE")
        json.field("help", help)
        json.key("metrics")
        json.beginArray()
        json.beginObject()
        json.key("labels")
        json.stringObject(labels)
        json.key("value")
        json.goNumberString(value)
        json.endObject()
        json.endArray()
        json.endObject()
    }

    static func write(_ family: FamilyState, stamp: Double, into json: inout JSONWriter, nowMs: Int64) {
        json.beginObject()
        json.field("time_stamp", RFC3339Time.string(stamp))
        json.field("type", typeName(family.type))
        if let help = family.help, !help.isEmpty { json.field("help", help) }
        json.key("metrics")
        json.beginArray()
        for key in family.cachedSortedKeys ?? family.series.keys.sorted() {
            guard let value = family.series[key]?.value.exposed(atMs: nowMs) else { continue }
            write(value, labels: LabelKey.withEmptyInstance(key.labels), into: &json)
        }
        json.endArray()
        json.endObject()
    }

    /// One series, keys in Go's sorted order: `buckets, count, labels, sum` for histograms,
    /// `count, labels, quantiles, sum` for summaries, `labels, value` for the rest.
    static func write(_ value: SeriesValue, labels: [(String, String)], into json: inout JSONWriter) {
        json.beginObject()
        switch value {
        case .scalar(let v):
            json.key("labels")
            json.stringObject(labels)
            json.key("value")
            json.goNumberString(v)
        case .histogram(let histogram):
            json.key("buckets")
            numberMap(histogram.buckets.map { ($0.upperBound, $0.count) }, into: &json)
            json.key("count")
            json.goNumberString(histogram.count)
            json.key("labels")
            json.stringObject(labels)
            json.key("sum")
            json.goNumberString(histogram.sum ?? 0)
        case .nativeHistogram(let native, let classic):
            // The Pushgateway's JSON shape has classic buckets only: a native histogram shows
            // those it was pushed with, and its count and sum.
            json.key("buckets")
            numberMap(classic?.buckets.map { ($0.upperBound, $0.count) } ?? [], into: &json)
            json.key("count")
            json.goNumberString(native.count)
            json.key("labels")
            json.stringObject(labels)
            json.key("sum")
            json.goNumberString(native.sum)
        case .summary(let summary):
            json.key("count")
            json.goNumberString(summary.count ?? 0)
            json.key("labels")
            json.stringObject(labels)
            json.key("quantiles")
            numberMap(summary.quantiles.map { ($0.quantile, $0.value) }, into: &json)
            json.key("sum")
            json.goNumberString(summary.sum ?? 0)
        case .observations(let list):
            // Only the extension's batches hold observation lists; were one here, its
            // latest observation is what a reader wants.
            json.key("labels")
            json.stringObject(labels)
            json.key("value")
            json.goNumberString(list.last?.value ?? 0)
        case .window:
            // `exposed(atMs:)` resolved windows to scalars before this point.
            json.key("labels")
            json.stringObject(labels)
        }
        json.endObject()
    }

    /// `{"<bound>":"<value>", ...}` with keys spelled and sorted as Go's map encoding does.
    static func numberMap(_ pairs: [(Double, Double)], into json: inout JSONWriter) {
        var entries = pairs.map { (GoNumberText.string($0.0), GoNumberText.string($0.1)) }
        entries.sort { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
        json.stringObject(entries)
    }

    /// The protobuf enum names the Pushgateway reports as `type`.
    static func typeName(_ type: MetricType) -> String {
        switch type {
        case .counter: "COUNTER"
        case .gauge: "GAUGE"
        case .histogram: "HISTOGRAM"
        case .gaugeHistogram: "GAUGE_HISTOGRAM"
        case .summary: "SUMMARY"
        case .untyped: "UNTYPED"
        }
    }

    /// `{"status":"success","data":{"build_information":{...},"flags":{...},"start_time":"..."}}`.
    static func status(flags: [(String, String)], startTime: Double, version: String) -> [UInt8] {
        var json = JSONWriter()
        json.beginObject()
        json.field("status", "success")
        json.key("data")
        json.beginObject()
        json.key("build_information")
        json.stringObject([("program", "gravel-gateway"), ("version", version)])
        json.key("flags")
        json.stringObject(flags.sorted { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) })
        json.field("start_time", RFC3339Time.string(startTime))
        json.endObject()
        json.endObject()
        return json.bytes
    }
}
