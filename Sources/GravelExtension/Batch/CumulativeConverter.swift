import Shared

/// Turns cumulative pushes into per-sandbox deltas (`GRAVEL_CUMULATIVE=1`).
///
/// A function with a long-lived registry pushes its counters' totals every time. Summing
/// totals at the gateway would count them again and again; summing the increase since
/// this sandbox's last push keeps the gateway's sums right across sandboxes. A value
/// below the last one means the registry restarted: the new value is the increase.
package struct CumulativeConverter: Sendable {
    struct SeriesID: Hashable, Sendable {
        var group: LabelKey
        var family: String
        var key: LabelKey
    }

    private var last: [SeriesID: SeriesValue] = [:]

    package init() {}

    /// Replaces the cumulative values of aggregating counters, histograms and summaries
    /// with their increase; everything else passes unchanged.
    package mutating func convert(_ families: inout [ParsedFamily], group: LabelKey) {
        for f in families.indices {
            let type = families[f].type
            guard type == .counter || type.isHistogram || type == .summary else { continue }
            for s in families[f].series.indices where families[f].series[s].mode == .aggregate {
                let id = SeriesID(group: group, family: families[f].name, key: families[f].series[s].key)
                let current = families[f].series[s].value
                if let previous = last[id] {
                    families[f].series[s].value = Self.delta(current, since: previous)
                }
                last[id] = current
            }
        }
    }

    /// Forgets a group's totals (it was deleted).
    package mutating func forget(group: LabelKey) {
        last = last.filter { $0.key.group != group }
    }

    static func delta(_ current: SeriesValue, since previous: SeriesValue) -> SeriesValue {
        switch (current, previous) {
        case (.scalar(let now), .scalar(let before)):
            return now >= before ? .scalar(now - before) : current
        case (.histogram(let now), .histogram(let before)):
            guard now.count >= before.count,
                now.buckets.count == before.buckets.count,
                zip(now.buckets, before.buckets).allSatisfy({ $0.upperBound == $1.upperBound && $0.count >= $1.count })
            else { return current }
            let buckets = zip(now.buckets, before.buckets).map { Bucket(upperBound: $0.upperBound, count: $0.count - $1.count) }
            let sum = now.sum.map { $0 - (before.sum ?? 0) }
            return .histogram(HistogramValue(buckets: buckets, sum: sum))
        case (.nativeHistogram(let now, let nowClassic), .nativeHistogram(let before, let beforeClassic)):
            guard let increase = now.increase(since: before) else { return current }
            // Classic buckets beside: their own increase when both states had them.
            var classic: HistogramValue? = nil
            if let nowClassic, let beforeClassic, case .histogram(let d) = delta(.histogram(nowClassic), since: .histogram(beforeClassic)) {
                classic = d
            }
            return .nativeHistogram(increase, classic: classic)
        case (.summary(let now), .summary(let before)):
            if let n = now.count, let b = before.count, n < b { return current }
            return .summary(
                SummaryValue(
                    quantiles: now.quantiles,
                    sum: now.sum.map { $0 - (before.sum ?? 0) },
                    count: now.count.map { $0 - (before.count ?? 0) }))
        default:
            return current
        }
    }
}
