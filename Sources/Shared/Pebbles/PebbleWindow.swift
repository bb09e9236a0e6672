/// The observations of one pebble series over its time window, as a ring of time buckets.
///
/// The window is split into N buckets (60 ≤ N ≤ 100, chosen so N divides the window). At
/// time `now` the window holds the buckets whose index is within the last N, the current
/// one included, so an observation leaves the window between one window and one window plus
/// a bucket after it was made. Only buckets that saw observations are stored.
public struct PebbleWindow: Sendable, Hashable {
    /// Quantiles are exact up to this many observations in the window.
    public static let exactLimit = 10_000

    struct Bucket: Sendable, Hashable {
        var index: Int64
        var count = 0
        var sum = 0.0
        var min = Double.infinity
        var max = -Double.infinity
        var lastTimestampMs = Int64.min
        var last = 0.0
        /// Raw values while the window is small enough for exact quantiles.
        var values: [Double] = []
        var sketch: LogSketch?
    }

    public let spec: PebbleSpec
    let bucketMs: Int64
    let bucketCount: Int64
    var buckets: [Bucket] = []
    var observations = 0
    var sketching = false

    /// The longest window a clearmode can spell: nine digits of hours.
    static let maxWindowSeconds: Int64 = 999_999_999 * 3600

    public init(spec: PebbleSpec) {
        self.spec = spec
        // The spelling gives 1 s up to 999,999,999 h, but `PebbleSpec` is public: a window of
        // zero would divide by zero below, a huge one overflow the milliseconds.
        let windowMs = Swift.min(Swift.max(Int64(spec.windowSeconds), 1), Self.maxWindowSeconds) * 1000
        var n: Int64 = 60
        while windowMs % n != 0 { n += 1 }  // 1000 divides every window, so n stops at 100 at most.
        self.bucketCount = n
        self.bucketMs = windowMs / n
    }

    /// The length of one time bucket.
    public var bucketDurationMs: Int64 { bucketMs }
    /// How many buckets make the window.
    public var bucketCountInWindow: Int64 { bucketCount }

    var keepsValues: Bool {
        if case .quantile = spec.aggregation { return true }
        return false
    }

    /// Records an observation made at `timestampMs` (clamped to `nowMs`). Returns false, and
    /// records nothing, when it is older than the window.
    @discardableResult
    public mutating func observe(_ value: Double, at timestampMs: Int64, nowMs: Int64) -> Bool {
        let current = nowMs / bucketMs
        let index = min(timestampMs, nowMs) / bucketMs
        guard index > current - bucketCount else { return false }
        expire(before: current - bucketCount + 1)

        var b = buckets.count
        while b > 0, buckets[b - 1].index > index { b -= 1 }
        if b == 0 || buckets[b - 1].index != index {
            buckets.insert(Bucket(index: index), at: b)
        } else {
            b -= 1
        }
        let timestamp = min(timestampMs, nowMs)
        buckets[b].count += 1
        buckets[b].sum += value
        buckets[b].min = Swift.min(buckets[b].min, value)
        buckets[b].max = Swift.max(buckets[b].max, value)
        if timestamp >= buckets[b].lastTimestampMs {
            buckets[b].lastTimestampMs = timestamp
            buckets[b].last = value
        }
        observations += 1
        if keepsValues {
            if !sketching, observations > Self.exactLimit { startSketching() }
            if sketching {
                buckets[b].sketch = buckets[b].sketch ?? LogSketch()
                buckets[b].sketch!.add(value)
            } else {
                buckets[b].values.append(value)
            }
        }
        return true
    }

    /// The aggregation over the window at `nowMs`; nil when the window holds nothing.
    public func value(atMs nowMs: Int64) -> Double? {
        let first = nowMs / bucketMs - bucketCount + 1
        let live = buckets.drop { $0.index < first }
        guard !live.isEmpty else { return nil }
        switch spec.aggregation {
        case .sum: return live.reduce(0) { $0 + $1.sum }
        case .count: return Double(live.reduce(0) { $0 + $1.count })
        case .mean: return live.reduce(0) { $0 + $1.sum } / Double(live.reduce(0) { $0 + $1.count })
        case .min: return live.reduce(Double.infinity) { Swift.min($0, $1.min) }
        case .max: return live.reduce(-Double.infinity) { Swift.max($0, $1.max) }
        case .last: return live.max { $0.lastTimestampMs < $1.lastTimestampMs }!.last
        case .quantile(let q): return Self.quantile(q, of: live)
        }
    }

    static func quantile(_ q: Double, of live: ArraySlice<Bucket>) -> Double? {
        if live.allSatisfy({ $0.sketch == nil }) {
            var all: [Double] = []
            all.reserveCapacity(live.reduce(0) { $0 + $1.values.count })
            for bucket in live { all.append(contentsOf: bucket.values) }
            all.removeAll { $0.isNaN }
            guard !all.isEmpty else { return nil }
            all.sort()
            return all[nearestRank(q, of: all.count) - 1]
        }
        var merged = LogSketch()
        for bucket in live {
            if let sketch = bucket.sketch { merged.merge(sketch) }
            for v in bucket.values { merged.add(v) }
        }
        return merged.quantile(q)
    }

    mutating func expire(before firstLive: Int64) {
        guard let oldest = buckets.first, oldest.index < firstLive else { return }
        let dead = buckets.prefix { $0.index < firstLive }
        observations -= dead.reduce(0) { $0 + $1.count }
        buckets.removeFirst(dead.count)
        if sketching, buckets.allSatisfy({ $0.sketch == nil }) { sketching = false }
    }

    mutating func startSketching() {
        sketching = true
        for b in buckets.indices where !buckets[b].values.isEmpty {
            var sketch = LogSketch()
            for v in buckets[b].values { sketch.add(v) }
            buckets[b].sketch = sketch
            buckets[b].values = []
        }
    }

    /// Approximate bytes held, for tests and accounting: grows with buckets, raw values up to
    /// the exact limit, and sketch bins, never with the number of observations beyond that.
    public var storageBytes: Int {
        MemoryLayout<Self>.size
            + buckets.reduce(0) {
                $0 + MemoryLayout<Bucket>.stride + $1.values.capacity * 8 + ($1.sketch?.binCount ?? 0) * 16
            }
    }
}

/// One pebble observation kept verbatim (the extension's batches keep these, so the gateway
/// windows them by the time the function observed them).
public struct TimedValue: Sendable, Hashable {
    public var value: Double
    public var timestampMs: Int64

    public init(value: Double, timestampMs: Int64) {
        self.value = value
        self.timestampMs = timestampMs
    }
}
