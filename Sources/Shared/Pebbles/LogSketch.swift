#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A mergeable quantile sketch with bounded relative error, in the style of DDSketch.
///
/// Values fall into logarithmic bins of ratio γ = (1+α)/(1−α); a bin answers with the value
/// whose relative distance to every value in the bin is at most α. Bins add, so sketches of
/// time buckets merge exactly. Zero and negative values have their own bins.
///
/// Every input is safe: counts are 64-bit (a bin cannot overflow before 2⁶³ observations,
/// which no process lives to see; the 32-bit counts of earlier versions overflowed after
/// 4.3 billion, reachable by merging a window's buckets), NaN is ignored, ±∞ have a bin
/// of their own, and magnitudes below the smallest normal double count as zero (their
/// bins' representatives would underflow).
public struct LogSketch: Sendable, Hashable {
    /// Relative accuracy. Kept under the promised 1% so rounding of the rank cannot push past it.
    public static let relativeAccuracy = 0.009
    static let gamma = (1 + relativeAccuracy) / (1 - relativeAccuracy)
    static let logGamma = log(gamma)
    /// Most bins per sign; beyond it the lowest bins collapse into one, which keeps memory
    /// bounded and costs accuracy only at the extreme low end of very wide ranges.
    public static let maxBins = 2048
    /// How many bins a collapse frees at once. Finding the lowest bins sorts the keys, so
    /// collapsing one bin per new bin (as earlier versions did) made every new value of a
    /// wide distribution cost a sort of 2048 keys; freeing a batch pays that once per 256 new
    /// bins. The top `maxBins - collapseBatch` bins (a range of 10¹⁴) are always exact.
    static let collapseBatch = 256
    /// The bin of ±∞, beyond every finite magnitude's (finite keys stay within ±40,000).
    static let infinityKey: Int32 = 1_000_000

    /// The bins of one sign, keyed by ⌈log_γ |v|⌉.
    struct Bins: Sendable, Hashable {
        var counts: [Int32: Int] = [:]
        /// Keys below it were collapsed into it; every key at or above it is a bin of its own.
        var floor = Int32.min

        mutating func add(_ key: Int32, _ n: Int) {
            let k = Swift.max(key, floor)
            counts[k] = LogSketch.adding(counts[k] ?? 0, n)
            if counts.count > LogSketch.maxBins { collapse(keeping: LogSketch.maxBins - LogSketch.collapseBatch) }
        }

        mutating func merge(_ other: Bins) {
            if other.floor > floor { raiseFloor(to: other.floor) }
            for (k, c) in other.counts { add(k, c) }
        }

        /// Folds the lowest bins into the lowest one kept.
        mutating func collapse(keeping kept: Int) {
            guard counts.count > kept else { return }
            let keys = counts.keys.sorted()
            raiseFloor(to: keys[keys.count - kept])
        }

        mutating func raiseFloor(to newFloor: Int32) {
            floor = newFloor
            var moved = 0
            for k in counts.keys.filter({ $0 < newFloor }) {
                moved = LogSketch.adding(moved, counts.removeValue(forKey: k)!)
            }
            if moved > 0 { counts[newFloor] = LogSketch.adding(counts[newFloor] ?? 0, moved) }
        }
    }

    var positive = Bins()
    var negative = Bins()
    var zeros = 0
    public private(set) var count = 0

    public init() {}

    public mutating func add(_ value: Double) {
        guard !value.isNaN else { return }
        count = Self.adding(count, 1)
        if abs(value) < Double.leastNormalMagnitude {
            zeros = Self.adding(zeros, 1)
        } else if value > 0 {
            positive.add(Self.key(value), 1)
        } else {
            negative.add(Self.key(-value), 1)
        }
    }

    public mutating func merge(_ other: LogSketch) {
        count = Self.adding(count, other.count)
        zeros = Self.adding(zeros, other.zeros)
        positive.merge(other.positive)
        negative.merge(other.negative)
    }

    /// The value at rank ⌈q·n⌉ (nearest rank), within the relative accuracy.
    public func quantile(_ q: Double) -> Double? {
        guard count > 0 else { return nil }
        let rank = nearestRank(q, of: count)
        var seen = 0
        var highest: Double? = nil
        for k in negative.counts.keys.sorted(by: >) {
            seen = Self.adding(seen, negative.counts[k]!)
            highest = -Self.value(k)
            if seen >= rank { return highest }
        }
        seen = Self.adding(seen, zeros)
        if zeros > 0 { highest = 0 }
        if seen >= rank { return 0 }
        for k in positive.counts.keys.sorted() {
            seen = Self.adding(seen, positive.counts[k]!)
            highest = Self.value(k)
            if seen >= rank { return highest }
        }
        // Only reached if counts saturated: the highest bin is the best answer left.
        return highest
    }

    /// Bins held, for memory accounting.
    public var binCount: Int { positive.counts.count + negative.counts.count }

    /// The bin of a positive magnitude: normal doubles give keys within ±40,000, ∞ its own.
    static func key(_ magnitude: Double) -> Int32 {
        guard magnitude.isFinite else { return infinityKey }
        let k = (log(magnitude) / logGamma).rounded(.up)
        return Int32(max(-Double(infinityKey - 1), min(Double(infinityKey - 1), k)))
    }

    /// The bin's representative: the point with equal relative distance to both edges,
    /// capped at the largest double (the top finite bin's midpoint can lie beyond it).
    static func value(_ key: Int32) -> Double {
        guard key < infinityKey else { return .infinity }
        return min(2 * pow(gamma, Double(key)) / (gamma + 1), .greatestFiniteMagnitude)
    }

    /// Counts saturate rather than trap. Counting one by one never gets near 2⁶³; only
    /// merging a sketch into itself over and over does.
    @inline(__always)
    static func adding(_ a: Int, _ b: Int) -> Int {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? .max : sum
    }
}
