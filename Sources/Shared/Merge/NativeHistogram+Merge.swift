extension NativeHistogram {
    /// The sum of two native histograms, exact.
    ///
    /// Both sides are first brought to the coarser schema (``reduced(toSchema:)``), then to
    /// one zero bucket (``mergedZeroThreshold(_:_:schema:)``); then counts, sums, the zero
    /// bucket and each bucket add. The rule is associative and commutative, so the extension's
    /// pre-aggregation in any grouping gives the result direct pushes give.
    public func merged(with other: NativeHistogram) -> NativeHistogram {
        let schema = Swift.min(self.schema, other.schema)
        var a = reduced(toSchema: schema)
        var b = other.reduced(toSchema: schema)
        let threshold = Self.mergedZeroThreshold(a.zeroThreshold, b.zeroThreshold, schema: schema)
        a.widenZeroBucket(to: threshold)
        b.widenZeroBucket(to: threshold)
        return NativeHistogram(
            schema: schema, zeroThreshold: threshold, zeroCount: a.zeroCount + b.zeroCount,
            count: a.count + b.count, sum: a.sum + b.sum,
            positive: Self.added(a.positive, b.positive), negative: Self.added(a.negative, b.negative),
            floatCounts: a.floatCounts || b.floatCounts)
    }

    /// The same observations at a schema no finer than `target`, exactly: bucket `i` at
    /// schema `s` lies inside bucket `((i - 1) >> (s - t)) + 1` at schema `t`, because each
    /// coarser boundary is a boundary of the finer schema (`2^(2^-t)` is a power of `2^(2^-s)`).
    public func reduced(toSchema target: Int32) -> NativeHistogram {
        guard target < schema else { return self }
        var result = self
        result.schema = target
        result.positive = Self.reduce(positive, by: schema - target)
        result.negative = Self.reduce(negative, by: schema - target)
        return result
    }

    /// The zero threshold of a merge at `schema`: the larger of both, raised to the next
    /// bucket boundary when it lies inside a bucket.
    ///
    /// Rounding to a boundary means no bucket is ever split between the zero bucket and
    /// itself, so moving whole buckets into the zero bucket stays exact. Prometheus raises
    /// the threshold only when a populated bucket straddles it; doing it always makes the
    /// result depend on the thresholds and schemas alone, not on which buckets happen to be
    /// populated, which keeps the merge associative when schemas differ. Client defaults
    /// (client_golang's 2^-128) are boundaries of every schema and do not move.
    public static func mergedZeroThreshold(_ a: Double, _ b: Double, schema: Int32) -> Double {
        let threshold = Swift.max(a, b)
        guard threshold > 0 else { return threshold }
        let rounded = upperBound(index: index(of: threshold, schema: schema), schema: schema)
        // A threshold in the last finite bucket stays as it is rather than become infinite.
        return rounded.isFinite ? rounded : threshold
    }

    /// Moves every bucket that lies at or below `threshold` into the zero bucket.
    /// `threshold` must be a bucket boundary at this schema, at least the current threshold.
    mutating func widenZeroBucket(to threshold: Double) {
        guard threshold > zeroThreshold else { return }
        zeroThreshold = threshold
        for side in 0..<2 {
            var buckets = side == 0 ? positive : negative
            var absorbed = 0
            while absorbed < buckets.count, Self.upperBound(index: buckets[absorbed].index, schema: schema) <= threshold {
                zeroCount += buckets[absorbed].count
                absorbed += 1
            }
            guard absorbed > 0 else { continue }
            buckets.removeFirst(absorbed)
            if side == 0 { positive = buckets } else { negative = buckets }
        }
    }

    /// What was observed since `earlier`, a previous state of the same cumulative histogram,
    /// or `nil` when this cannot be a later state of it (the client restarted): a finer schema,
    /// a smaller zero threshold, or any count below the earlier one.
    ///
    /// Clients may lower the resolution or widen the zero bucket of a live histogram, so
    /// `earlier` is first brought to this schema and threshold, exactly.
    public func increase(since earlier: NativeHistogram) -> NativeHistogram? {
        guard schema <= earlier.schema, zeroThreshold >= earlier.zeroThreshold else { return nil }
        var before = earlier.reduced(toSchema: schema)
        if zeroThreshold > before.zeroThreshold {
            guard Self.mergedZeroThreshold(zeroThreshold, before.zeroThreshold, schema: schema) == zeroThreshold else { return nil }
            before.widenZeroBucket(to: zeroThreshold)
        }
        guard count >= before.count, zeroCount >= before.zeroCount,
            let positive = Self.subtracted(before.positive, from: positive),
            let negative = Self.subtracted(before.negative, from: negative)
        else { return nil }
        return NativeHistogram(
            schema: schema, zeroThreshold: zeroThreshold, zeroCount: zeroCount - before.zeroCount,
            count: count - before.count, sum: sum - before.sum, positive: positive, negative: negative,
            floatCounts: floatCounts || before.floatCounts)
    }

    /// `later − earlier` bucket by bucket, without the buckets that did not change; `nil`
    /// when a bucket of `earlier` is missing from `later` or larger there.
    static func subtracted(_ earlier: [Bucket], from later: [Bucket]) -> [Bucket]? {
        var result: [Bucket] = []
        result.reserveCapacity(later.count)
        var j = 0
        for bucket in later {
            var count = bucket.count
            if j < earlier.count, earlier[j].index < bucket.index { return nil }
            if j < earlier.count, earlier[j].index == bucket.index {
                guard earlier[j].count <= count else { return nil }
                count -= earlier[j].count
                j += 1
            }
            if count > 0 { result.append(Bucket(index: bucket.index, count: count)) }
        }
        return j == earlier.count ? result : nil
    }

    static func reduce(_ buckets: [Bucket], by shift: Int32) -> [Bucket] {
        var result: [Bucket] = []
        result.reserveCapacity(buckets.count)
        // The mapping is monotonic, so sorted input gives sorted output with neighbours merged.
        for bucket in buckets {
            let index = ((bucket.index &- 1) >> shift) &+ 1
            if let last = result.last, last.index == index {
                result[result.count - 1].count += bucket.count
            } else {
                result.append(Bucket(index: index, count: bucket.count))
            }
        }
        return result
    }

    /// The bucket-wise sum of two sorted sparse bucket lists.
    static func added(_ a: [Bucket], _ b: [Bucket]) -> [Bucket] {
        if b.isEmpty { return a }
        if a.isEmpty { return b }
        var result: [Bucket] = []
        result.reserveCapacity(Swift.max(a.count, b.count))
        var i = 0, j = 0
        while i < a.count || j < b.count {
            if j == b.count || (i < a.count && a[i].index < b[j].index) {
                result.append(a[i])
                i += 1
            } else if i == a.count || b[j].index < a[i].index {
                result.append(b[j])
                j += 1
            } else {
                result.append(Bucket(index: a[i].index, count: a[i].count + b[j].count))
                i += 1
                j += 1
            }
        }
        return result
    }
}

extension SeriesValue {
    /// The `aggregate` rule when either side is a native histogram.
    ///
    /// Native parts add (``NativeHistogram/merged(with:)``). Classic buckets are kept only
    /// while every push had them, since a push without them leaves their counts unknown.
    /// A series that changes between native and classic-only keeps what both sides have:
    /// the classic buckets when both had them, else it starts afresh with the new push.
    static func aggregatedNative(_ stored: SeriesValue, _ incoming: SeriesValue) -> SeriesValue {
        switch (stored, incoming) {
        case (.nativeHistogram(let a, let classicA), .nativeHistogram(let b, let classicB)):
            var classic: HistogramValue? = nil
            if let classicA, let classicB { classic = classicA.merged(with: classicB) }
            return .nativeHistogram(a.merged(with: b), classic: classic)
        case (.nativeHistogram(_, let classic?), .histogram(let h)), (.histogram(let h), .nativeHistogram(_, let classic?)):
            return .histogram(classic.merged(with: h))
        default:
            return incoming
        }
    }
}
