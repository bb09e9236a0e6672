/// One stored series: its value and the rule it was last merged with.
public struct SeriesState: Sendable {
    public var value: SeriesValue
    /// `.replace` once any replacing push touched the series since it was created, so a
    /// pre-aggregated batch (the extension's) re-applies the same rule downstream.
    public var mode: ClearMode

    public init(value: SeriesValue, mode: ClearMode) {
        self.value = value
        self.mode = mode
    }
}

/// One metric family within a group.
public struct FamilyState: Sendable {
    public var type: MetricType
    public var help: String?
    public var series: [LabelKey: SeriesState]
    /// True once a `clearmode="family"` push replaced this family (since the state was created).
    public var replaced: Bool
    /// Series keys in order; dropped when a series is added or removed, rebuilt by ``sortedKeys()``.
    var sortedCache: [LabelKey]?

    public init(type: MetricType, help: String?) {
        self.type = type
        self.help = help
        self.series = [:]
        self.replaced = false
        self.sortedCache = []
    }

    /// The series keys in byte order (cached until the set of series changes).
    public mutating func sortedKeys() -> [LabelKey] {
        if let sortedCache { return sortedCache }
        let keys = series.keys.sorted()
        sortedCache = keys
        return keys
    }

    /// The cached order, if it is current (for readers that cannot mutate).
    public var cachedSortedKeys: [LabelKey]? { sortedCache }
}

/// The metric families of one group (one grouping key), with the clearmode merge rules.
///
/// Both programs use it: the gateway holds one per pushed group, the extension one per
/// group per batch. Merging is total: anything `ExpositionParser` accepted and the caller
/// validated against other groups merges without failing.
public struct GroupState: Sendable {
    public var families: [String: FamilyState]

    public init() { families = [:] }

    public var isEmpty: Bool { families.isEmpty }

    /// Number of series over all families.
    public var seriesCount: Int { families.values.reduce(0) { $0 + $1.series.count } }

    /// Merges one parsed family into the group.
    ///
    /// - Parameters:
    ///   - inserted: called for each series key that did not exist before.
    ///   - removed: called for each series key that a family replacement dropped.
    public mutating func apply(
        _ parsed: ParsedFamily,
        inserted: (LabelKey) -> Void = { _ in },
        removed: (LabelKey) -> Void = { _ in }
    ) {
        var family = families.removeValue(forKey: parsed.name) ?? FamilyState(type: parsed.type, help: parsed.help)
        if let help = parsed.help { family.help = help }
        if parsed.replacesFamily {
            for key in family.series.keys { removed(key) }
            family.series.removeAll(keepingCapacity: true)
            family.sortedCache = []
            family.replaced = true
        }
        for incoming in parsed.series {
            family.merge(incoming, inserted: inserted)
        }
        if family.series.isEmpty, !family.replaced {
            return  // Keep no empty families around (they would render as bare headers).
        }
        families[parsed.name] = family
    }

    /// Removes everything, reporting each dropped key.
    public mutating func removeAll(removed: (String, LabelKey) -> Void = { _, _ in }) {
        for (name, family) in families {
            for key in family.series.keys { removed(name, key) }
        }
        families.removeAll()
    }
}

extension FamilyState {
    mutating func merge(_ incoming: ParsedSeries, inserted: (LabelKey) -> Void) {
        guard var stored = series[incoming.key] else {
            series[incoming.key] = SeriesState(value: incoming.value, mode: incoming.mode)
            sortedCache = nil
            inserted(incoming.key)
            return
        }
        switch incoming.mode {
        case .aggregate:
            stored.value.aggregate(incoming.value)
        case .replace, .family, .pebble:
            stored.value = incoming.value
            stored.mode = incoming.mode
        }
        series[incoming.key] = stored
    }
}
