extension SeriesValue {
    /// Adds `other` to this value: the `aggregate` rule.
    ///
    /// Scalars add. Histograms add per bound over the union of both layouts. Summaries add
    /// their sum and count and take the newer quantiles, which cannot be added.
    public mutating func aggregate(_ other: SeriesValue) {
        switch (self, other) {
        case (.scalar(let a), .scalar(let b)):
            self = .scalar(a + b)
        case (.histogram(let a), .histogram(let b)):
            self = .histogram(a.merged(with: b))
        case (.summary(let a), .summary(let b)):
            self = .summary(SummaryValue(
                quantiles: b.quantiles,
                sum: addOptional(a.sum, b.sum),
                count: addOptional(a.count, b.count)))
        case (.nativeHistogram, _), (_, .nativeHistogram):
            self = Self.aggregatedNative(self, other)
        default:
            // Kinds only differ when a family changed type (refused first) or a pebble
            // series is aggregated as a plain one, which starts it afresh.
            self = other
        }
    }
}

func addOptional(_ a: Double?, _ b: Double?) -> Double? {
    switch (a, b) {
    case (nil, nil): nil
    default: (a ?? 0) + (b ?? 0)
    }
}

extension HistogramValue {
    /// The sum of two histograms over the union of their bounds.
    ///
    /// At each bound b, each side contributes its cumulative count at its own largest
    /// bound ≤ b (zero below its first bound). The result is cumulative and monotonic,
    /// and the merge is associative, so pre-aggregating in any grouping gives the same result.
    public func merged(with other: HistogramValue) -> HistogramValue {
        let sum = addOptional(self.sum, other.sum)
        // Same layout, the common case: add pairwise.
        if buckets.count == other.buckets.count,
           zip(buckets, other.buckets).allSatisfy({ $0.upperBound == $1.upperBound }) {
            var result = buckets
            for k in result.indices { result[k].count += other.buckets[k].count }
            return HistogramValue(buckets: result, sum: sum)
        }
        var result: [Bucket] = []
        result.reserveCapacity(buckets.count + other.buckets.count)
        var i = 0, j = 0
        var a = 0.0, b = 0.0  // Cumulative counts at each side's last bound passed.
        while i < buckets.count || j < other.buckets.count {
            let boundA = i < buckets.count ? buckets[i].upperBound : .infinity
            let boundB = j < other.buckets.count ? other.buckets[j].upperBound : .infinity
            let bound = Swift.min(boundA, boundB)
            if i < buckets.count, buckets[i].upperBound == bound { a = buckets[i].count; i += 1 }
            if j < other.buckets.count, other.buckets[j].upperBound == bound { b = other.buckets[j].count; j += 1 }
            result.append(Bucket(upperBound: bound, count: a + b))
        }
        return HistogramValue(buckets: result, sum: sum)
    }
}
