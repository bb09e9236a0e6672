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
    /// How pebble series (`clearmode="mean5m"` and the like) are kept.
    public enum PebbleStorage: Sendable {
        /// As time windows that answer their aggregate at scrape time (the gateway).
        case windows
        /// As every observation with its time, to be replayed downstream (a batch).
        case observations
    }

    public var families: [String: FamilyState]
    public let pebbleStorage: PebbleStorage

    public init(pebbleStorage: PebbleStorage = .windows) {
        families = [:]
        self.pebbleStorage = pebbleStorage
    }

    public var isEmpty: Bool { families.isEmpty }

    /// Number of series over all families.
    public var seriesCount: Int { families.values.reduce(0) { $0 + $1.series.count } }

    /// Merges one parsed family into the group.
    ///
    /// - Parameters:
    ///   - nowMs: the current time in milliseconds; pebble observations without a timestamp
    ///     are made now, and later ones are clamped to it.
    ///   - inserted: called for each series key that did not exist before.
    ///   - removed: called for each series key that a family replacement dropped.
    /// - Returns: the number of pebble observations ignored for being older than their window.
    @discardableResult
    public mutating func apply(
        _ parsed: ParsedFamily,
        nowMs: Int64,
        inserted: (LabelKey) -> Void = { _ in },
        removed: (LabelKey) -> Void = { _ in }
    ) -> Int {
        var family = families.removeValue(forKey: parsed.name) ?? FamilyState(type: parsed.type, help: parsed.help)
        if let help = parsed.help { family.help = help }
        if parsed.replacesFamily {
            for key in family.series.keys { removed(key) }
            family.series.removeAll(keepingCapacity: true)
            family.sortedCache = []
            family.replaced = true
        }
        var stale = 0
        for incoming in parsed.series {
            if !family.merge(incoming, pebbles: pebbleStorage, nowMs: nowMs, inserted: inserted) { stale += 1 }
        }
        if family.series.isEmpty, !family.replaced {
            return stale  // Keep no empty families around (they would render as bare headers).
        }
        families[parsed.name] = family
        return stale
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
    /// Merges one series; false when a pebble observation was too old for its window.
    mutating func merge(
        _ incoming: ParsedSeries, pebbles: GroupState.PebbleStorage, nowMs: Int64, inserted: (LabelKey) -> Void
    ) -> Bool {
        var stored = series.removeValue(forKey: incoming.key)
        if stored == nil {
            sortedCache = nil
            inserted(incoming.key)
        }
        var recorded = true
        if case .pebble(let spec) = incoming.mode, case .scalar(let v) = incoming.value {
            let at = min(incoming.timestampMs ?? nowMs, nowMs)
            switch pebbles {
            case .windows:
                var window: PebbleWindow
                if case .window(let existing)? = stored?.value, existing.spec == spec {
                    window = existing
                    stored!.value = .scalar(0)  // Drop the second reference so the ring mutates in place.
                } else {
                    window = PebbleWindow(spec: spec)
                }
                recorded = window.observe(v, at: at, nowMs: nowMs)
                stored = SeriesState(value: .window(window), mode: incoming.mode)
            case .observations:
                var list: [TimedValue] = []
                if case .observations(let existing)? = stored?.value, stored?.mode == incoming.mode {
                    list = existing
                    stored!.value = .scalar(0)
                }
                list.append(TimedValue(value: v, timestampMs: at))
                stored = SeriesState(value: .observations(list), mode: incoming.mode)
            }
        } else if var existing = stored {
            switch incoming.mode {
            case .aggregate:
                existing.value.aggregate(incoming.value)
            case .replace, .family, .pebble:
                existing.value = incoming.value
                existing.mode = incoming.mode
            }
            stored = existing
        } else {
            stored = SeriesState(value: incoming.value, mode: incoming.mode)
        }
        series[incoming.key] = stored
        return recorded
    }
}
