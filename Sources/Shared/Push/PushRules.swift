/// The rules a push must pass before anything of it is applied, shared by both programs.
///
/// A push is checked as a whole against a view of the stored state (``PushStateView``)
/// and either refused with one ``PushFailure`` or applied whole by the caller, under the
/// same lock: a refused push changes nothing.
public struct PushRules: Sendable {
    /// Most series the state may hold (`--max-series`, `GRAVEL_MAX_SERIES`).
    public var maxSeries: Int
    /// Most groups the state may hold (`--max-groups`).
    public var maxGroups: Int
    /// The flag or variable that sets each limit, named in messages.
    public var maxSeriesSetting: String
    public var maxGroupsSetting: String

    public init(
        maxSeries: Int, maxGroups: Int = .max, maxSeriesSetting: String = "--max-series",
        maxGroupsSetting: String = "--max-groups"
    ) {
        self.maxSeries = maxSeries
        self.maxGroups = maxGroups
        self.maxSeriesSetting = maxSeriesSetting
        self.maxGroupsSetting = maxGroupsSetting
    }

    /// Names the gateway writes on every scrape; no push may write them.
    public static let reservedNames: Set<String> = ["push_time_seconds", "push_failure_time_seconds"]
    public static let reservedPrefix = "gravel_gateway_"

    /// Whether a family would write a reserved name in either output format.
    public static func writesReservedName(_ family: String, type: MetricType) -> String? {
        // Every name a family writes starts as the family's name does (a suffix added, or
        // `_total` taken off), and every reserved name starts with `push_` or the prefix:
        // the common family builds no name list at all on the push path. A UTF-8 name also
        // writes its escaped form (`push.time_seconds` is `push_time_seconds` to a legacy scraper).
        guard family.hasPrefix("push_") || family.hasPrefix(reservedPrefix) || !NameRules.isLegacyMetricName(family.utf8) else {
            return nil
        }
        for name in type.writtenNames(ofFamily: family) where reservedNames.contains(name) || name.hasPrefix(reservedPrefix) {
            return name
        }
        return nil
    }

    /// Checks a push (POST or PUT) against the state; throws the first rule it breaks.
    public func validate(
        _ push: ParsedPush, to grouping: GroupingKey, method: PushMethod, in view: some PushStateView
    ) throws(PushFailure) {
        let groupKey = grouping.key
        let replacing = method == .put
        let excluded: LabelKey? = replacing ? groupKey : nil
        let current = view.group(groupKey)
        let stored = replacing ? nil : current
        var removed = replacing ? (current?.seriesCount ?? 0) : 0
        var added = 0
        var newSeries: Set<SeriesIdentity> = []
        var claimedHere: [String: String] = [:]

        if current == nil, view.groupCount >= maxGroups {
            throw PushFailure(
                .tooManyGroups,
                "this push would create group \(grouping.displayName), over the limit of \(maxGroups) groups (\(maxGroupsSetting)); "
                    + "delete unused groups or raise the limit")
        }
        for family in push.families {
            if let name = Self.writesReservedName(family.name, type: family.type) {
                throw PushFailure(
                    .reservedName, "line \(family.line): \(family.name) would write \(name), which the gateway writes itself; rename it")
            }
            for name in family.type.exposedNames(ofFamily: family.name) {
                let writer = view.family(writing: name, excludingGroup: excluded) ?? claimedHere[name]
                if let writer, writer != family.name {
                    throw PushFailure(
                        .conflict,
                        "line \(family.line): \(family.type) \(family.name) would write \(name), which family \(writer) already writes; "
                            + "rename one of them")
                }
                claimedHere[name] = family.name
            }
            if let type = view.storedType(of: family.name, excludingGroup: excluded), type != family.type {
                throw PushFailure(
                    .conflict,
                    "line \(family.line): \(family.name) is pushed as \(family.type) but is stored as \(type); "
                        + "a metric name has one type across the gateway")
            }
            let storedFamily = stored?.families[family.name]
            let replacesFamily = family.replacesFamily
            if replacesFamily, let storedFamily { removed += storedFamily.series.count }
            for series in family.series {
                if !replacesFamily, let storedSeries = storedFamily?.series[series.key] {
                    // A finite total that an addition would make infinite stays so forever (S68).
                    if series.mode == .aggregate, storedSeries.value.overflows(adding: series.value) {
                        throw PushFailure(
                            .conflict,
                            "line \(series.line): adding this to the stored \(family.type.textName) \(family.name)\(series.key.braced) would overflow to infinity, "
                                + "which would stay forever; push it with clearmode=\"replace\" or delete the group first")
                    }
                    continue
                }
                if let owner = view.owner(of: family.name, key: series.key), owner != groupKey {
                    throw PushFailure(
                        .conflict,
                        "line \(series.line): series \(family.name)\(series.key.braced) is already pushed by group \(owner.braced); "
                            + "two groups cannot expose the same series")
                }
                if newSeries.insert(SeriesIdentity(family: family.name, key: series.key)).inserted { added += 1 }
            }
        }
        let total = view.seriesCount - removed + added
        if added > 0, total > maxSeries {
            throw PushFailure(
                .tooManySeries,
                "this push would bring the total to \(total) series, over the limit of \(maxSeries) (\(maxSeriesSetting)); "
                    + "delete unused groups or raise the limit")
        }
    }
}

/// A series as Prometheus sees it: family name and final labels.
public struct SeriesIdentity: Hashable, Sendable {
    public var family: String
    public var key: LabelKey

    public init(family: String, key: LabelKey) {
        self.family = family
        self.key = key
    }
}

extension LabelKey {
    /// The key between braces, as a series or group is written in messages.
    public var braced: String { "{" + String(decoding: bytes, as: UTF8.self) + "}" }
}

extension GroupingKey {
    /// The group as messages and logs write it: `{job="a",instance="b"}`.
    public var displayName: String { key.braced }
}

extension MetricType {
    /// The sample and metadata names a family of this type claims, so two families never
    /// write the same name (`foo_sum` of a histogram `foo` and an untyped `foo_sum`; a
    /// counter `foo` and a counter `foo_total`).
    public func exposedNames(ofFamily name: String) -> [String] {
        let names = legacyExposedNames(ofFamily: name)
        guard !NameRules.isLegacyMetricName(name.utf8) else { return names }
        // A UTF-8 name also claims what it becomes in a scrape that asks for no escaping
        // (underscores, Prometheus's default): `my.metric` and `my_metric` would otherwise
        // be one family to such a scraper.
        return names + names.map { String(decoding: NameRules.escape(Array($0.utf8), .underscores), as: UTF8.self) }
    }

    private func legacyExposedNames(ofFamily name: String) -> [String] {
        switch self {
        case .counter:
            // OpenMetrics writes the samples of a counter `foo` as `foo_total`. The metadata
            // name `foo` of a counter `foo_total` is not claimed: real exporters (Go's
            // runtime metrics) pair a gauge `foo` with a counter `foo_total`.
            return name.hasSuffix("_total") ? [name] : [name, name + "_total"]
        case .histogram: return [name, name + "_bucket", name + "_sum", name + "_count"]
        case .gaugeHistogram: return [name, name + "_bucket", name + "_sum", name + "_count", name + "_gsum", name + "_gcount"]
        case .summary: return [name, name + "_sum", name + "_count"]
        case .gauge, .untyped: return [name]
        }
    }

    /// Every name a family of this type writes in either output format, metadata included
    /// (the OpenMetrics `# TYPE foo counter` of a counter `foo_total`).
    public func writtenNames(ofFamily name: String) -> [String] {
        var names = exposedNames(ofFamily: name)
        if self == .counter, name.hasSuffix("_total") { names.append(String(name.dropLast("_total".count))) }
        return names
    }
}

extension SeriesValue {
    /// Whether the `aggregate` rule would turn this value's finite totals infinite by adding
    /// `other`: the count and sum of histograms and summaries, the value of scalars (bucket
    /// counts are at most the count).
    public func overflows(adding other: SeriesValue) -> Bool {
        @inline(__always) func overflows(_ a: Double?, _ b: Double?) -> Bool {
            guard let a, let b, a.isFinite, b.isFinite else { return false }
            return !(a + b).isFinite
        }
        switch (self, other) {
        case (.scalar(let a), .scalar(let b)):
            return overflows(a, b)
        case (.histogram(let a), .histogram(let b)), (.nativeHistogram(_, classic: let a?), .histogram(let b)):
            return overflows(a.count, b.count) || overflows(a.sum, b.sum)
        case (.summary(let a), .summary(let b)):
            return overflows(a.count, b.count) || overflows(a.sum, b.sum)
        case (.nativeHistogram(let a, _), .nativeHistogram(let b, _)):
            return overflows(a.count, b.count) || overflows(a.sum, b.sum) || overflows(a.zeroCount, b.zeroCount)
        default:
            return false
        }
    }
}
