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
    package var state = GroupState()
    package var pebbles = PebbleLog()
    /// Orders the flush: groups with a PUT or DELETE go first, in the order of those
    /// operations, so type and ownership checks at the gateway see what they would have.
    package var sequence: Int

    package init(grouping: GroupingKey, operation: Operation, sequence: Int) {
        self.grouping = grouping
        self.operation = operation
        self.sequence = sequence
    }

    /// Series plus pebble observations: what the batch's memory grows with.
    package var entryCount: Int { state.seriesCount + pebbles.count }

    /// The type of a family held here, stored or pebble.
    package func type(of family: String) -> MetricType? {
        state.families[family]?.type ?? pebbles.families[family]?.type
    }

    /// Whether the group holds this final series.
    package func holds(family: String, key: LabelKey) -> Bool {
        state.families[family]?.series[key] != nil || pebbles.contains(family: family, key: key)
    }

    /// Merges one push's families, in order, with the Shared rules; pebble series are logged.
    package mutating func merge(_ families: [ParsedFamily], arrivalMs: Int64) {
        for family in families {
            if family.replacesFamily { pebbles.removeFamily(family.name) }
            var stored = family
            stored.series.removeAll { $0.mode.isPebble }
            if !stored.series.isEmpty || state.families[family.name] != nil {
                state.apply(stored)
            }
            for series in family.series where series.mode.isPebble {
                guard case .scalar(let value) = series.value else { continue }  // the parser allows scalars only
                let timestamp = min(series.timestampMs ?? arrivalMs, arrivalMs)
                pebbles.append(
                    family: family.name, type: family.type, help: family.help,
                    .init(key: series.key, mode: series.mode, value: value, timestampMs: timestamp))
            }
        }
    }

    /// Merges a newer part of the same group (POSTs only) after this one.
    package mutating func mergeNewer(_ newer: BatchGroup) {
        var families: [ParsedFamily] = []
        for (name, family) in newer.state.families {
            let series = family.series.map { key, stored in
                ParsedSeries(key: key, mode: family.replaced ? .family : stored.mode, value: stored.value)
            }
            families.append(ParsedFamily(name: name, type: family.type, help: family.help, series: series))
        }
        for family in families {
            if family.replacesFamily { pebbles.removeFamily(family.name) }
            state.apply(family)
        }
        pebbles.append(newer.pebbles)
        if operation == .delete { operation = .replace }
    }
}
