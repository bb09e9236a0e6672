#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A native (sparse, exponential) histogram as Prometheus defines it.
///
/// At schema `s` the buckets grow by the factor `2^(2^-s)`: positive bucket `i` holds the
/// observations in `(2^((i-1)·2^-s), 2^(i·2^-s)]`, negative bucket `i` the same range
/// mirrored below zero, and the zero bucket every observation with `|v| ≤ zeroThreshold`.
/// Buckets are kept sparse and canonical: sorted by index, without empty ones, so two
/// histograms of the same observations compare equal however they were encoded.
public struct NativeHistogram: Sendable, Hashable {
    /// One populated bucket.
    public struct Bucket: Sendable, Hashable {
        public var index: Int32
        public var count: Double

        public init(index: Int32, count: Double) {
            self.index = index
            self.count = count
        }
    }

    /// The resolution, from -4 (factor 65536) to 8 (factor about 1.0027).
    public var schema: Int32
    public var zeroThreshold: Double
    public var zeroCount: Double
    /// Observations, NaN ones included (which sit in no bucket).
    public var count: Double
    public var sum: Double
    public var positive: [Bucket]
    public var negative: [Bucket]
    /// Whether the counts came as floats (`sample_count_float` and friends) and are written back so.
    public var floatCounts: Bool

    public static let schemas: ClosedRange<Int32> = -4...8

    public init(
        schema: Int32, zeroThreshold: Double, zeroCount: Double = 0, count: Double = 0, sum: Double = 0,
        positive: [Bucket] = [], negative: [Bucket] = [], floatCounts: Bool = false
    ) {
        self.schema = schema
        self.zeroThreshold = zeroThreshold
        self.zeroCount = zeroCount
        self.count = count
        self.sum = sum
        self.positive = positive
        self.negative = negative
        self.floatCounts = floatCounts
    }

    /// The upper bound of bucket `index` at `schema` (its lower bound is bucket `index - 1`'s).
    ///
    /// Computed so that a bucket boundary is the same number at every schema that has it:
    /// `exp2` sees the same argument for bucket `i` at schema `s` and `2i` at `s + 1`.
    public static func upperBound(index: Int32, schema: Int32) -> Double {
        if schema <= 0 {
            return scalbn(1.0, Int32(truncatingIfNeeded: Int64(index) << Int64(-schema)))
        }
        let whole = index >> schema
        let fraction = index & ((1 << schema) - 1)
        return scalbn(exp2(Double(fraction) / Double(1 << schema)), whole)
    }

    /// The bucket index of a positive, finite `value` at `schema`: the one whose range holds it.
    package static func index(of value: Double, schema: Int32) -> Int32 {
        let parts = frexp(value)  // value = fraction · 2^exponent, fraction in [0.5, 1)
        if schema <= 0 {
            var index = Int32(parts.1)
            if parts.0 == 0.5 { index -= 1 }
            return ((index - 1) >> -schema) + 1
        }
        // value = m · 2^(exponent - 1) with m in [1, 2): find the smallest r with 2^(r/2^s) ≥ m
        // using the very bounds `upperBound` returns, so both always agree.
        let m = parts.0 * 2
        let steps = Int32(1) << schema
        var low: Int32 = 0, high = steps
        while low < high {
            let mid = (low + high) / 2
            if exp2(Double(mid) / Double(steps)) >= m { high = mid } else { low = mid + 1 }
        }
        return (Int32(parts.1) - 1) * steps + low
    }

    /// Adds one observation, as a client library does (tests build reference histograms this way).
    package mutating func observe(_ value: Double) {
        count += 1
        sum += value
        if value.isNaN { return }
        if abs(value) <= zeroThreshold {
            zeroCount += 1
        } else if value > 0 {
            Self.add(Bucket(index: Self.index(of: value, schema: schema), count: 1), to: &positive)
        } else {
            Self.add(Bucket(index: Self.index(of: -value, schema: schema), count: 1), to: &negative)
        }
    }

    static func add(_ bucket: Bucket, to buckets: inout [Bucket]) {
        var low = 0, high = buckets.count
        while low < high {
            let mid = (low + high) / 2
            if buckets[mid].index < bucket.index { low = mid + 1 } else { high = mid }
        }
        if low < buckets.count, buckets[low].index == bucket.index {
            buckets[low].count += bucket.count
        } else {
            buckets.insert(bucket, at: low)
        }
    }

    /// Number of populated buckets, the zero bucket included: what the bucket limit counts.
    public var bucketCount: Int { positive.count + negative.count + 1 }
}
