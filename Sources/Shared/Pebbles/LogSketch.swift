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
public struct LogSketch: Sendable, Hashable {
    /// Relative accuracy. Kept under the promised 1% so rounding of the rank cannot push past it.
    public static let relativeAccuracy = 0.009
    static let gamma = (1 + relativeAccuracy) / (1 - relativeAccuracy)
    static let logGamma = log(gamma)
    /// Most bins per sign; beyond it the lowest bins collapse into one, which keeps memory
    /// bounded and costs accuracy only at the extreme low end of very wide ranges.
    public static let maxBins = 2048

    var positive: [Int32: UInt32] = [:]
    var negative: [Int32: UInt32] = [:]
    var zeros: UInt32 = 0
    public internal(set) var count = 0

    public init() {}

    public mutating func add(_ value: Double) {
        guard !value.isNaN else { return }
        count += 1
        if value == 0 || abs(value) < Double.leastNormalMagnitude {
            zeros += 1
        } else if value > 0 {
            Self.insert(Self.key(value), into: &positive)
        } else {
            Self.insert(Self.key(-value), into: &negative)
        }
    }

    public mutating func merge(_ other: LogSketch) {
        count += other.count
        zeros += other.zeros
        for (k, c) in other.positive { positive[k, default: 0] += c }
        for (k, c) in other.negative { negative[k, default: 0] += c }
        Self.collapse(&positive)
        Self.collapse(&negative)
    }

    /// The value at rank ⌈q·n⌉ (nearest rank), within the relative accuracy.
    public func quantile(_ q: Double) -> Double? {
        guard count > 0 else { return nil }
        let rank = max(1, Int((q * Double(count)).rounded(.up)))
        var seen = 0
        for k in negative.keys.sorted(by: >) {
            seen += Int(negative[k]!)
            if seen >= rank { return -Self.value(k) }
        }
        seen += Int(zeros)
        if seen >= rank { return 0 }
        for k in positive.keys.sorted() {
            seen += Int(positive[k]!)
            if seen >= rank { return Self.value(k) }
        }
        return positive.keys.max().map(Self.value)
    }

    /// Bins held, for memory accounting.
    public var binCount: Int { positive.count + negative.count }

    static func key(_ magnitude: Double) -> Int32 {
        let k = (log(magnitude) / logGamma).rounded(.up)
        return Int32(max(-1_000_000, min(1_000_000, k)))
    }

    /// The bin's representative: the point with equal relative distance to both edges.
    static func value(_ key: Int32) -> Double {
        2 * pow(gamma, Double(key)) / (gamma + 1)
    }

    static func insert(_ key: Int32, into bins: inout [Int32: UInt32]) {
        bins[key, default: 0] += 1
        if bins.count > maxBins { collapse(&bins) }
    }

    static func collapse(_ bins: inout [Int32: UInt32]) {
        guard bins.count > maxBins else { return }
        let keys = bins.keys.sorted()
        let excess = keys.count - maxBins + 1
        let target = keys[excess]
        var moved: UInt32 = 0
        for k in keys[..<excess] { moved += bins.removeValue(forKey: k)! }
        bins[target, default: 0] += moved
    }
}
