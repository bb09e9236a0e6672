import Shared
import Synchronization

extension MetricStore {
    /// A consistent copy of the stored groups for a scrape to render without the lock.
    ///
    /// Copying is cheap (copy-on-write); pushes that arrive during rendering pay for
    /// copying only what they change.
    struct Snapshot: Sendable {
        var groups: [LabelKey: Group]
        var sortedGroupKeys: [LabelKey]
    }

    func snapshot() -> Snapshot {
        state.withLock { state in
            for key in state.unsorted {
                guard var group = state.groups.removeValue(forKey: key) else { continue }
                for name in group.state.families.keys {
                    _ = group.state.families[name]!.sortedKeys()
                }
                state.groups[key] = group
            }
            state.unsorted.removeAll()
            if state.sortedGroupKeys == nil {
                state.sortedGroupKeys = state.groups.keys.sorted()
            }
            return Snapshot(groups: state.groups, sortedGroupKeys: state.sortedGroupKeys!)
        }
    }
}

extension MetricStore.Snapshot {
    /// Renders the whole exposition at once (tests, and small states).
    func render<W: ScrapeWriter>(into writer: inout W, now: Double) {
        var cursor = ScrapeCursor(self, now: now)
        while cursor.render(into: &writer, atLeast: .max) {}
    }
}

/// Renders a snapshot in pieces, so a scrape streams its response through one reused
/// buffer instead of holding the whole exposition (hundreds of MB for a million series)
/// and its copies in memory.
///
/// Order: every family once, sorted by name; within a family, groups in key order and series
/// in key order; then `push_time_seconds` and `push_failure_time_seconds` per group. Pebble
/// series show their window's aggregate at `now`, and nothing once the window is empty.
struct ScrapeCursor {
    private let snapshot: MetricStore.Snapshot
    private let nowMs: Int64
    /// Family names, sorted, each with the groups that hold it, in key order.
    private let families: [(name: String, groups: [LabelKey])]
    private var family = 0
    private var group = 0
    private var series = 0
    /// Whether the current family's header is out: a family of empty windows shows nothing.
    private var headerWritten = false
    private var groupTimesWritten = false
    /// The family names as the writer escapes them, worked out at the first chunk (see
    /// `ScrapeWriter.escapedNames(of:)`); the outer optional is whether that happened.
    private var escapedNames: Set<String>?? = nil

    init(_ snapshot: MetricStore.Snapshot, now: Double) {
        self.snapshot = snapshot
        self.nowMs = Int64((now * 1000).rounded())
        var holders: [String: [LabelKey]] = [:]
        for groupKey in snapshot.sortedGroupKeys {
            guard let group = snapshot.groups[groupKey] else { continue }
            for name in group.state.families.keys {
                holders[name, default: []].append(groupKey)
            }
        }
        families = holders.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }.map { ($0.key, $0.value) }
    }

    /// Whether any group of the snapshot holds a family of this name (binary search: the
    /// names are sorted by their bytes). The scrape asks before it writes a `process_*`
    /// family of its own.
    func holdsFamily(named name: String) -> Bool {
        var low = 0
        var high = families.count
        while low < high {
            let mid = (low + high) / 2
            if families[mid].name.utf8.lexicographicallyPrecedes(name.utf8) { low = mid + 1 } else { high = mid }
        }
        return low < families.count && families[low].name == name
    }

    /// Renders until `writer` holds at least `chunk` bytes; `false` once everything is written.
    mutating func render<W: ScrapeWriter>(into writer: inout W, atLeast chunk: Int) -> Bool {
        if escapedNames == nil { escapedNames = .some(writer.escapedNames(of: families.lazy.map(\.name))) }
        while family < families.count {
            let (name, groupKeys) = families[family]
            let first = snapshot.groups[groupKeys[0]]!.state.families[name]!
            let groups = snapshot.groups
            let help = groupKeys.lazy.compactMap { groups[$0]!.state.families[name]!.help }.first
            // An OpenMetrics counter `foo_total` beside a family `foo` is declared `unknown`:
            // a scrape declares each name once.
            let escaped = escapedNames!
            let names = writer.header(family: name, type: first.type) { other in
                writer.isFamily(other, escapedNames: escaped) { holdsFamily(named: $0) }
            }
            while group < groupKeys.count {
                let stored = snapshot.groups[groupKeys[group]]!.state.families[name]!
                let keys = stored.cachedSortedKeys ?? stored.series.keys.sorted()
                while series < keys.count {
                    let key = keys[series]
                    series += 1
                    guard var value = stored.series[key]!.value.exposed(atMs: nowMs) else { continue }
                    if case .nativeHistogram = value {
                        guard let shown = writer.shows(value) else { continue }  // Text has no native histograms.
                        value = shown
                    }
                    if !headerWritten {
                        writer.writeHeader(metadataName: names.metadata, type: names.type, help: help)
                        headerWritten = true
                    }
                    writer.writeSeries(name: names.sample, type: names.type, key: key, value: value)
                    if writer.bytes.count >= chunk { return true }
                }
                group += 1
                series = 0
            }
            family += 1
            group = 0
            headerWritten = false
        }
        if !groupTimesWritten, !snapshot.sortedGroupKeys.isEmpty {
            groupTimesWritten = true
            renderGroupTimes(
                "push_time_seconds", "Last time a group was pushed to, in seconds since the Unix epoch.", \.pushTimeSeconds,
                into: &writer)
            renderGroupTimes(
                "push_failure_time_seconds", "Last time a push to a group was refused, in seconds since the Unix epoch (0: never).",
                \.pushFailureTimeSeconds, into: &writer)
        }
        return false
    }

    /// One gauge per group, labelled with the group's key, as the Pushgateway writes them.
    private func renderGroupTimes<W: ScrapeWriter>(
        _ name: String, _ help: String, _ time: KeyPath<MetricStore.Group, Double>, into writer: inout W
    ) {
        writer.writeHeader(metadataName: name, type: .gauge, help: help)
        let sample = Array(name.utf8)
        for groupKey in snapshot.sortedGroupKeys {
            guard let group = snapshot.groups[groupKey] else { continue }
            writer.writeSeries(name: sample, type: .gauge, key: groupKey, value: .scalar(group[keyPath: time]))
        }
    }
}
