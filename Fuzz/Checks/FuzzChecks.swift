import Shared

/// The properties every fuzz target checks on every input. A violation is a crash, which
/// libFuzzer reports with the input that caused it.
///
/// - No trap: any input is refused with an error value or accepted.
/// - Bounded memory: what an accepted push writes out is bounded by the limits and the
///   input's size (libFuzzer's `-rss_limit_mb` and `-malloc_limit_mb` catch the rest).
/// - Accepted input renders to text that parses back to the same series: rendering the
///   re-parsed series gives the same bytes, in both formats.
public enum FuzzChecks {
    /// Small limits, so that inputs of a few kilobytes reach every limit.
    public static let limits = ParseLimits(
        maxLabelsPerSeries: 8, maxLabelNameBytes: 64, maxLabelValueBytes: 128, maxBuckets: 32, maxQuantiles: 16,
        maxExpandedBytes: 1 << 20)
    /// Limits that never refuse what the renderer wrote: a merge may add up layouts.
    static let wide = ParseLimits(
        maxLabelsPerSeries: 1 << 20, maxLabelNameBytes: 1 << 20, maxLabelValueBytes: 1 << 20, maxBuckets: 1 << 20,
        maxQuantiles: 1 << 20, maxExpandedBytes: Int.max)
    static let nowMs: Int64 = 1_700_000_000_000

    static func withUTF8Names(_ limits: ParseLimits) -> ParseLimits {
        var limits = limits
        limits.utf8Names = true
        return limits
    }

    /// Text 0.0.4 or OpenMetrics (by the first byte's bit 0), with UTF-8 names or not (bit 1),
    /// then the pipeline.
    public static func text(_ data: UnsafeRawBufferPointer) {
        guard let first = data.first else { return }
        let format: ExpositionFormat = first & 1 == 0 ? .text : .openMetrics
        let utf8 = first & 2 != 0
        let body = UnsafeRawBufferPointer(rebasing: data.dropFirst())
        guard let push = try? ExpositionParser.parse(body, format: format, limits: utf8 ? withUTF8Names(limits) : limits) else {
            return
        }
        check(push, grouping: .empty, inputBytes: data.count)
        pipeline([push], inputBytes: data.count, utf8Names: utf8)
    }

    /// A delimited protobuf body, read with UTF-8 names off and on; its text translation is
    /// bounded too.
    public static func protobuf(_ data: UnsafeRawBufferPointer) {
        for utf8 in [false, true] {
            let limits = utf8 ? withUTF8Names(limits) : limits
            if let text = try? ProtobufExposition.translate(data, limits: limits) {
                // The check runs after each line; a line is at most its labels long.
                require(text.count <= limits.maxExpandedBytes + 64 * 1024, "protobuf text of \(text.count) bytes")
            }
            guard let push = try? ProtobufExposition.parse(data, limits: limits) else { continue }
            check(push, grouping: .empty, inputBytes: data.count)
            pipeline([push], inputBytes: data.count, utf8Names: utf8)
        }
    }

    /// A push path: an accepted one has no empty, repeated or unwritable labels, and its
    /// canonical path parses back to the same group.
    public static func path(_ data: UnsafeRawBufferPointer) {
        let path = String(decoding: data, as: UTF8.self)
        guard let grouping = try? GroupingKey(path: path) else { return }
        var names = Set<String>()
        for (name, value) in grouping.labels {
            require(!value.isEmpty, "empty value of \(name) kept")
            require(names.insert(name).inserted, "\(name) twice")
            require(LabelName.isValid(name) && !name.hasPrefix("__") && name != "clearmode", "label name \(name)")
            require(!value.utf8.contains { ($0 < 0x20 && $0 != 0x09 && $0 != 0x0A) || $0 == 0x7F }, "control byte kept")
        }
        guard let again = try? GroupingKey(path: grouping.path) else { fatalError("\(grouping.path) does not parse") }
        require(again == grouping, "\(grouping.path) parses to \(again)")
        guard let push = try? ExpositionParser.parse("m 1\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\n", grouping: grouping, limits: wide)
        else {
            // Only a bound label in the path may refuse this body.
            require(grouping.labels.contains { $0.name == "le" }, "\(grouping) refuses a plain body")
            return
        }
        pipeline([push], grouping: grouping, inputBytes: data.count)
    }

    /// Several bodies, separated by 0xFF bytes (never valid UTF-8 text), merged into one group
    /// whose path is the first line.
    public static func pipeline(_ data: UnsafeRawBufferPointer) {
        let parts = data.split(separator: 0xFF, maxSplits: 8, omittingEmptySubsequences: false)
        guard let head = parts.first else { return }
        var grouping = GroupingKey.empty
        if let path = try? GroupingKey(path: String(decoding: head, as: UTF8.self)) { grouping = path }
        var pushes: [ParsedPush] = []
        for part in parts.dropFirst() {
            let raw = UnsafeRawBufferPointer(rebasing: part)
            let format = ExpositionFormat.detect(contentType: nil, body: raw)
            guard let push = try? ExpositionParser.parse(raw, format: format, grouping: grouping, limits: limits) else { continue }
            check(push, grouping: grouping, inputBytes: data.count)
            pushes.append(push)
        }
        pipeline(pushes, grouping: grouping, inputBytes: data.count)
    }

    // MARK: - Properties

    /// What the parser promises about an accepted push.
    static func check(_ push: ParsedPush, grouping: GroupingKey, inputBytes: Int) {
        for family in push.families {
            for series in family.series {
                let labels = series.key.labels
                require(labels.count <= limits.maxLabelsPerSeries, "\(labels.count) labels")
                var names = Set<String>()
                for (name, value) in labels {
                    require(!value.isEmpty, "empty label \(name) kept")
                    require(names.insert(name).inserted, "label \(name) twice in a key")
                    require(name != "clearmode", "clearmode in a key")
                }
                require(!series.key.bytes.contains { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }, "control byte in a key")
                let aggregates = series.mode == .aggregate
                switch series.value {
                case .scalar(let v):
                    require(!aggregates || v.isFinite, "aggregated \(v)")
                case .histogram(let h):
                    require(!names.contains("le") || !family.type.isHistogram, "le in a histogram key")
                    require(h.buckets.count <= limits.maxBuckets, "\(h.buckets.count) buckets")
                    require(h.buckets.last?.upperBound == .infinity, "no +Inf bucket")
                    for k in h.buckets.indices.dropFirst() {
                        require(h.buckets[k - 1].upperBound < h.buckets[k].upperBound, "buckets out of order")
                        require(h.buckets[k - 1].count <= h.buckets[k].count, "buckets not cumulative")
                    }
                    require(
                        !aggregates || (h.buckets.allSatisfy { $0.count.isFinite } && (h.sum?.isFinite ?? true)),
                        "aggregated non-finite histogram")
                case .summary(let s):
                    require(!names.contains("quantile"), "quantile in a summary key")
                    require(s.quantiles.count <= limits.maxQuantiles, "\(s.quantiles.count) quantiles")
                    require(!aggregates || ((s.sum?.isFinite ?? true) && (s.count?.isFinite ?? true)), "aggregated non-finite summary")
                case .nativeHistogram(let native, _):
                    require(!aggregates || (native.count.isFinite && native.sum.isFinite), "aggregated non-finite native histogram")
                case .window, .observations:
                    fatalError("the parser made a pebble value")
                }
            }
        }
    }

    /// Merges the pushes into one group, renders it in both formats and checks that the
    /// output reads back to itself and stays within the bound the limits promise.
    ///
    /// With `utf8Names` the pushes may hold UTF-8 names: the output allowing them must read
    /// back to itself, and the output escaped for a legacy scraper must parse without them.
    static func pipeline(_ pushes: [ParsedPush], grouping: GroupingKey = .empty, inputBytes: Int, utf8Names: Bool = false) {
        guard !pushes.isEmpty else { return }
        var group = GroupState()
        var claimed: [String: (family: String, type: MetricType)] = [:]
        for push in pushes where admits(push, &claimed) {
            for family in push.families { group.apply(family, nowMs: nowMs) }
        }
        let escaping: NameEscaping? = utf8Names ? .allowUTF8 : nil
        let readLimits = utf8Names ? withUTF8Names(wide) : wide
        for format in [ExpositionFormat.text, .openMetrics] {
            let first = render(group, format: format, clearModes: false, escaping: escaping)
            let bound = 3 * limits.maxExpandedBytes * pushes.count + 4 * inputBytes + 4096
            require(first.count <= bound, "rendered \(first.count) bytes from \(inputBytes)")
            if utf8Names {
                let legacy = render(group, format: format, clearModes: false, escaping: .underscores)
                do {
                    _ = try ExpositionParser.parseScrape(legacy, format: format, limits: wide)
                } catch {
                    fatalError("escaped \(format) does not parse: \(error)\n\(String(decoding: legacy, as: UTF8.self))")
                }
            }
            let reread: ParsedPush
            do {
                reread = try ExpositionParser.parseScrape(first, format: format, limits: readLimits)
            } catch {
                fatalError("rendered \(format) does not parse: \(error)\n\(String(decoding: first, as: UTF8.self))")
            }
            var again = GroupState()
            for family in reread.families { again.apply(family, nowMs: nowMs) }
            let second = render(again, format: format, clearModes: false, escaping: escaping)
            // OpenMetrics names a counter `foo` and a counter `foo_total` alike, so the family
            // read back may sort elsewhere (`foo2` sorts between `foo` and `foo_total`): the
            // same lines in another family order. The parse above checked the structure.
            let same = format == .text ? first == second : lines(first) == lines(second)
            require(
                same,
                "rendered \(format) does not read back:\n\(String(decoding: first, as: UTF8.self))\n---\n\(String(decoding: second, as: UTF8.self))"
            )
        }
        // The extension's flush form (every series with its clearmode) must be a valid push.
        // Adding finite values can overflow to an infinity, which no push may send: that is
        // the merge's to prevent, so a group holding one is not asked to flush.
        if holdsAggregatedInfinity(group) { return }
        let flushed = render(group, format: .text, clearModes: true, escaping: escaping)
        do {
            _ = try ExpositionParser.parse(flushed, format: .text, grouping: grouping, limits: readLimits)
        } catch {
            fatalError("flush form does not parse: \(error)\n\(String(decoding: flushed, as: UTF8.self))")
        }
    }

    /// The cross-family rule the programs' push validation applies before merging: one type
    /// per name, and no two families writing the same sample or metadata name (a histogram
    /// `h` and an untyped `h_bucket` would interleave their lines). Claims the names of an
    /// admitted push.
    static func admits(_ push: ParsedPush, _ claimed: inout [String: (family: String, type: MetricType)]) -> Bool {
        var mine = claimed
        for family in push.families {
            for name in family.type.writtenNames(ofFamily: family.name) {
                if let owner = mine[name], owner.family != family.name || owner.type != family.type { return false }
                mine[name] = (family.name, family.type)
            }
        }
        claimed = mine
        return true
    }

    /// A property check whose message survives an optimized build (precondition's does not).
    static func require(_ condition: Bool, _ message: @autoclosure () -> String) {
        if !condition { fatalError(message()) }
    }

    static func lines(_ text: [UInt8]) -> [ArraySlice<UInt8>] {
        text.split(separator: 0x0A).sorted { $0.lexicographicallyPrecedes($1) }
    }

    static func render(_ group: GroupState, format: ExpositionFormat, clearModes: Bool, escaping: NameEscaping? = nil) -> [UInt8] {
        var group = group
        var writer = ExpositionWriter(format: format)
        writer.nameEscaping = escaping
        group.render(into: &writer, clearModes: clearModes, nowMs: nowMs)
        writer.finish()
        return writer.bytes
    }

    static func holdsAggregatedInfinity(_ group: GroupState) -> Bool {
        for family in group.families.values {
            for series in family.series.values where series.mode == .aggregate {
                switch series.value {
                case .scalar(let v): if !v.isFinite { return true }
                case .histogram(let h): if h.buckets.contains(where: { !$0.count.isFinite }) || !(h.sum?.isFinite ?? true) { return true }
                case .summary(let s): if !(s.sum?.isFinite ?? true) || !(s.count?.isFinite ?? true) { return true }
                case .nativeHistogram(let native, _): if !native.count.isFinite || !native.sum.isFinite { return true }
                case .window, .observations: break
                }
            }
        }
        return false
    }
}
