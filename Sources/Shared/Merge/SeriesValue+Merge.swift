extension SeriesValue {
    /// Adds `other` to this value: the `aggregate` rule (docs/SEMANTICS.md S25, S26).
    ///
    /// Scalars add. Histograms add on the bounds both layouts share (S29, see
    /// ``HistogramValue/merge(_:)``). Summaries add `_sum` and `_count` and drop their
    /// quantiles (S30): quantiles of two populations cannot be combined, and keeping either
    /// side's would present them as the quantiles of the whole. A `_sum` is unknown once
    /// any side's is (see `sumOfKnown`).
    ///
    /// Histograms merge in place: this runs under the gateway's store lock on every push,
    /// so it allocates nothing and is linear in the number of buckets.
    public mutating func aggregate(_ other: SeriesValue) {
        switch other {
        case .scalar(let b):
            if case .scalar(let a) = self {
                self = .scalar(a + b)
                return
            }
        case .histogram(let b):
            if case .histogram(var a) = self {
                self = .scalar(0)  // Drop the stored reference so the buckets mutate in place.
                a.merge(b)
                self = .histogram(a)
                return
            }
            if case .nativeHistogram = self {
                self = Self.aggregatedNative(self, other)
                return
            }
        case .summary(let b):
            if case .summary(let a) = self {
                // `_count` is always written once quantiles are dropped, a push without one
                // adding none: a summary left with no sample at all could not be replayed by
                // a batch (docs/SEMANTICS.md S51), yet must still drop the quantiles downstream.
                self = .summary(
                    SummaryValue(
                        quantiles: [], sum: sumOfKnown(a.sum, b.sum), count: (a.count ?? 0) + (b.count ?? 0)))
                return
            }
        case .nativeHistogram:
            self = Self.aggregatedNative(self, other)
            return
        case .window, .observations:
            break
        }
        // Kinds only differ when a family changed type (refused first) or a pebble
        // series is aggregated as a plain one, which starts it afresh.
        self = other
    }
}

/// The sum of two parts of a total, unknown when either part is: a push without `_sum`
/// says nothing about its observations' sum, so adding only the other side's would expose
/// a wrong total as if it were the true one. Associative and commutative, like the sum.
/// A merged value always has samples to show (buckets, or a summary's `_count`), so a batch
/// replays an unknown `_sum` as a value without one and the gateway ends in the same state.
@inline(__always)
func sumOfKnown(_ a: Double?, _ b: Double?) -> Double? {
    guard let a, let b else { return nil }
    return a + b
}

extension HistogramValue {
    /// Adds `other` on the bounds both layouts share (docs/SEMANTICS.md S29).
    ///
    /// The result keeps exactly the bounds present on both sides (`+Inf`, which every
    /// histogram has, is always among them), each with the sum of both counts there; a
    /// bound only one side has is dropped, because the other side's count at it is
    /// unknown. So every bucket count stays the true number of observations at or below its
    /// bound. The union of both layouts, which earlier versions used, took a missing
    /// bound's count from the nearest lower bound: a silent under-count that skewed
    /// `histogram_quantile` (`{1:5,+Inf:10}` with `{2:7,+Inf:10}` gave `le="2"` = 12 where
    /// the truth lies between 12 and 17). Same layouts, the common case, keep every bucket.
    ///
    /// Intersection and addition are associative and commutative, so pre-aggregating in
    /// any grouping (the extension's batches) gives the same result as merging one by one.
    /// `_sum` adds, and is unknown when either side's is (see `sumOfKnown`).
    ///
    /// One pass over both layouts, writing into this histogram's buckets in place (the
    /// write position never passes the read position): linear, no allocation. It runs under
    /// the gateway's store lock; the union rule was quadratic when one body repeated a series
    /// with new bounds (the stored layout grew with each, and each merge copied it).
    public mutating func merge(_ other: HistogramValue) {
        sum = sumOfKnown(sum, other.sum)
        let before = buckets.count
        let kept = other.buckets.withUnsafeBufferPointer { theirs in
            buckets.withUnsafeMutableBufferPointer { mine in Self.intersect(into: mine, theirs) }
        }
        buckets.removeLast(before - kept)
    }

    /// Writes the shared bounds with both counts into `mine`'s first elements; returns how many.
    private static func intersect(into mine: UnsafeMutableBufferPointer<Bucket>, _ theirs: UnsafeBufferPointer<Bucket>) -> Int {
        // Same layout, the common case: add pairwise, a loop the compiler vectorizes. Bit
        // equality, so that -0 against 0 takes the general path, which writes 0 either way.
        if mine.count == theirs.count,
            zip(mine, theirs).allSatisfy({ $0.upperBound.bitPattern == $1.upperBound.bitPattern })
        {
            for k in mine.indices { mine[k].count += theirs[k].count }
            return mine.count
        }
        var write = 0, i = 0, j = 0
        while i < mine.count, j < theirs.count {
            let a = mine[i].upperBound, b = theirs[j].upperBound
            if a == b {
                mine[write] = Bucket(upperBound: a == 0 ? 0 : a, count: mine[i].count + theirs[j].count)
                write += 1
                i += 1
                j += 1
            } else if a < b {
                i += 1
            } else {
                // Also taken when a bound is NaN (never parsed, but a pass must always advance).
                j += 1
            }
        }
        return write
    }

    /// The sum of two histograms on their shared bounds; see ``merge(_:)``.
    public func merged(with other: HistogramValue) -> HistogramValue {
        var result = self
        result.merge(other)
        return result
    }
}
