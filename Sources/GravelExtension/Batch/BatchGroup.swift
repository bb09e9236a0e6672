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
            apply(family, nowMs: nowMs)
        }
    }

    /// Applies one family and keeps `entryCount` (series, and each pebble observation) right
    /// by recounting only the series the push touches, not the whole family.
    private mutating func apply(_ family: ParsedFamily, nowMs: Int64) {
        if family.replacesFamily {
            entryCount -= entries(ofFamily: family.name)
            state.apply(family, nowMs: nowMs)
            entryCount += entries(ofFamily: family.name)
            return
        }
        let touched = Set(family.series.map(\.key))
        let before = entries(of: touched, in: family.name)
        state.apply(family, nowMs: nowMs)
        entryCount += entries(of: touched, in: family.name) - before
    }

    private func entries(ofFamily name: String) -> Int {
        entries(of: state.families[name]?.series.keys.map { $0 } ?? [], in: name)
    }

    private func entries(of keys: some Sequence<LabelKey>, in name: String) -> Int {
        guard let family = state.families[name] else { return 0 }
        var n = 0
        for key in keys {
            guard let stored = family.series[key] else { continue }
            if case .observations(let list) = stored.value { n += list.count } else { n += 1 }
        }
        return n
    }
}
