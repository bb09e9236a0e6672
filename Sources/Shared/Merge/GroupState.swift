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
        // The common case, an update of a stored plain series, hashes the key once and
        // mutates the value in place.
        guard let index = series.index(forKey: incoming.key) else {
            var state = SeriesState(value: incoming.value, mode: incoming.mode)
            if case .pebble(let spec) = incoming.mode, case .scalar(let v) = incoming.value {
                // An observation too old for its window does not create the series.
                guard Self.observe(v, incoming, spec, into: &state, fresh: true, pebbles: pebbles, nowMs: nowMs) else { return false }
            }
            sortedCache = nil
            inserted(incoming.key)
            series[incoming.key] = state
            return true
        }
        if case .pebble(let spec) = incoming.mode, case .scalar(let v) = incoming.value {
            return Self.observe(v, incoming, spec, into: &series.values[index], fresh: false, pebbles: pebbles, nowMs: nowMs)
        }
        switch incoming.mode {
        case .aggregate:
            let wasPebble = series.values[index].mode.isPebble
            series.values[index].value.aggregate(incoming.value)
            // Aggregating a plain value onto a pebble series starts it afresh as a plain one.
            if wasPebble { series.values[index].mode = .aggregate }
        case .replace, .family, .pebble:
            series.values[index] = SeriesState(value: incoming.value, mode: incoming.mode)
        }
        return true
    }

    /// Adds one pebble observation to a series, starting a new window (or list) when the
    /// series held something else or another pebble.
    static func observe(
        _ value: Double, _ incoming: ParsedSeries, _ spec: PebbleSpec, into state: inout SeriesState,
        fresh: Bool, pebbles: GroupState.PebbleStorage, nowMs: Int64
    ) -> Bool {
        let at = min(incoming.timestampMs ?? nowMs, nowMs)
        let sameMode = !fresh && state.mode == incoming.mode
        state.mode = incoming.mode
        switch pebbles {
        case .windows:
            var window: PebbleWindow
            if sameMode, case .window(let existing) = state.value, existing.spec == spec {
                window = existing
            } else {
                window = PebbleWindow(spec: spec)
            }
            state.value = .scalar(0)  // Drop the stored reference so the ring mutates in place.
            let recorded = window.observe(value, at: at, nowMs: nowMs)
            state.value = .window(window)
            return recorded
        case .observations:
            var list: [TimedValue] = []
            if sameMode, case .observations(let existing) = state.value { list = existing }
            state.value = .scalar(0)
            list.append(TimedValue(value: value, timestampMs: at))
            state.value = .observations(list)
            return true
        }
    }
}
