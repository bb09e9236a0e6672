/// One histogram bucket: the cumulative count of observations less than or equal to `upperBound`.
public struct Bucket: Sendable, Hashable {
    public var upperBound: Double
    public var count: Double

    public init(upperBound: Double, count: Double) {
        self.upperBound = upperBound
        self.count = count
    }
}

/// A histogram series: cumulative buckets sorted by bound, ending with `+Inf`.
public struct HistogramValue: Sendable, Hashable {
    public var buckets: [Bucket]
    public var sum: Double?

    public init(buckets: [Bucket], sum: Double?) {
        self.buckets = buckets
        self.sum = sum
    }

    /// The number of observations: the `+Inf` bucket.
    public var count: Double { buckets.last?.count ?? 0 }
}

/// One summary quantile.
public struct Quantile: Sendable, Hashable {
    public var quantile: Double
    public var value: Double

    public init(quantile: Double, value: Double) {
        self.quantile = quantile
        self.value = value
    }
}

/// A summary series. Under `aggregate` the quantiles are dropped once two pushes merge
/// (docs/SEMANTICS.md S30), leaving `_sum` and `_count`.
public struct SummaryValue: Sendable, Hashable {
    public var quantiles: [Quantile]
    public var sum: Double?
    public var count: Double?

    public init(quantiles: [Quantile], sum: Double?, count: Double?) {
        self.quantiles = quantiles
        self.sum = sum
        self.count = count
    }
}

/// The value of one series.
public enum SeriesValue: Sendable, Hashable {
    case scalar(Double)
    case histogram(HistogramValue)
    // Rare and large payloads are boxed so every stored series stays small.
    indirect case summary(SummaryValue)
    /// A pebble series as the gateway stores it: a window of observations.
    indirect case window(PebbleWindow)
    /// A pebble series as a batch keeps it: every observation with its time, in order.
    case observations([TimedValue])

    /// What a scrape at `nowMs` shows: windows become their aggregate (nil when empty).
    public func exposed(atMs nowMs: Int64) -> SeriesValue? {
        guard case .window(let window) = self else { return self }
        return window.value(atMs: nowMs).map(SeriesValue.scalar)
    }
}
