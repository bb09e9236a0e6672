import Shared

/// One group's part of a batch: its merged state and how the flush must send it.
package struct BatchGroup: Sendable {
    /// How the flush replays the group's pushes at the gateway.
    package enum Operation: Sendable, Equatable {
        /// Only POSTs: flush as a POST of the merged state.
        case merge
        /// A PUT (or a DELETE followed by pushes): flush as a PUT of the merged state.
        case replace
        /// A DELETE and nothing after it: flush as a DELETE.
        case delete
    }

    package var grouping: GroupingKey
    package var operation: Operation
    /// Pebble series keep every observation with its time, to be replayed as repeated lines:
    /// a windowed statistic cannot be pre-aggregated without the gateway's window.
    package var state = GroupState(pebbleStorage: .observations)
    /// Orders the flush: groups with a PUT or DELETE go first, in the order of those
    /// operations, so type and ownership checks at the gateway see what they would have.
    package var sequence: Int
    /// Series plus pebble observations beyond each series' first: what memory grows with.
    package private(set) var entryCount = 0

    package init(grouping: GroupingKey, operation: Operation, sequence: Int) {
        self.grouping = grouping
        self.operation = operation
        self.sequence = sequence
    }

    /// The type of a family held here.
    package func type(of family: String) -> MetricType? {
        state.families[family]?.type
    }

    /// Whether the group holds this final series.
    package func holds(family: String, key: LabelKey) -> Bool {
        state.families[family]?.series[key] != nil
    }

    /// Merges one push's families, in order, with the Shared rules.
    package mutating func merge(_ families: [ParsedFamily], nowMs: Int64) {
        for family in families {
            state.apply(family, nowMs: nowMs)
            recount(family.name)
        }
    }

    /// Merges a newer part of the same group (POSTs only) after this one.
    package mutating func mergeNewer(_ newer: BatchGroup, nowMs: Int64) {
        for (name, family) in newer.state.families {
            var series: [ParsedSeries] = []
            var stored = family
            for key in stored.sortedKeys() {
                let value = stored.series[key]!
                if case .observations(let list) = value.value {
                    for observation in list {
                        series.append(ParsedSeries(key: key, mode: value.mode, value: .scalar(observation.value), timestampMs: observation.timestampMs))
                    }
                } else {
                    series.append(ParsedSeries(key: key, mode: family.replaced ? .family : value.mode, value: value.value))
                }
            }
            state.apply(ParsedFamily(name: name, type: family.type, help: family.help, series: series), nowMs: nowMs)
            recount(name)
        }
        if operation == .delete { operation = .replace }
    }

    private var familyEntries: [String: Int] = [:]

    private mutating func recount(_ name: String) {
        var n = 0
        for stored in state.families[name]?.series.values ?? [:].values {
            if case .observations(let list) = stored.value { n += list.count } else { n += 1 }
        }
        entryCount += n - (familyEntries[name] ?? 0)
        familyEntries[name] = n
    }
}
