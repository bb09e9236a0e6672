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
    /// Renders every family once, sorted by name; within a family, groups in key order and
    /// series in key order. Then `push_time_seconds` per group. Pebble series show their
    /// window's aggregate at `now` (seconds), and nothing once the window is empty.
    func render(into writer: inout ExpositionWriter, now: Double) {
        let nowMs = Int64((now * 1000).rounded())
        var holders: [String: [LabelKey]] = [:]
        for groupKey in sortedGroupKeys {
            guard let group = groups[groupKey] else { continue }
            for name in group.state.families.keys {
                holders[name, default: []].append(groupKey)
            }
        }
        for name in holders.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            let groupKeys = holders[name]!
            var type = MetricType.untyped
            var help: String? = nil
            for groupKey in groupKeys {
                let family = groups[groupKey]!.state.families[name]!
                type = family.type
                if help == nil { help = family.help }
            }
            let names = writer.header(family: name, type: type) { holders[$0] != nil }
            // The header waits for the first visible series: a family of empty windows shows nothing.
            var headerWritten = false
            for groupKey in groupKeys {
                let family = groups[groupKey]!.state.families[name]!
                let keys = family.cachedSortedKeys ?? family.series.keys.sorted()
                for key in keys {
                    guard let value = family.series[key]!.value.exposed(atMs: nowMs) else { continue }
                    if !headerWritten {
                        writer.writeHeader(metadataName: names.metadata, type: names.type, help: help)
                        headerWritten = true
                    }
                    writer.writeSeries(name: names.sample, type: names.type, key: key, value: value)
                }
            }
        }
        guard !sortedGroupKeys.isEmpty else { return }
        writer.writeHeader(
            metadataName: MetricStore.reservedName, type: .gauge,
            help: "Last time a group was pushed to, in seconds since the Unix epoch.")
        let sample = Array(MetricStore.reservedName.utf8)
        for groupKey in sortedGroupKeys {
            guard let group = groups[groupKey] else { continue }
            writer.writeSeries(name: sample, type: .gauge, key: groupKey, value: .scalar(group.pushTimeSeconds))
        }
    }
}
