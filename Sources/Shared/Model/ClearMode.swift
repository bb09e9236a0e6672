/// How a pushed series merges into what is stored, chosen per series by the `clearmode` label.
public enum ClearMode: Sendable, Hashable, CustomStringConvertible {
    /// Add the new value to the stored one (counters, histograms, summaries' sum and count).
    case aggregate
    /// Replace the stored value with the new one.
    case replace
    /// Replace the whole family in this group with this push's series of it.
    case family
    /// A time-windowed statistic of the observations, exposed as a gauge.
    /// Boxed: every stored series holds a mode, and few are pebbles.
    indirect case pebble(PebbleSpec)

    /// The name of the label that carries the mode. It is never stored or exposed.
    public static let labelName = "clearmode"

    /// Every spelling accepted, for error messages.
    public static let validValuesDescription =
        "aggregate (alias sum), replace, family (alias info), or a pebble <agg><window> "
        + "such as mean5m, max30s, p99_1h (agg: sum, mean/avg, min, max, count, last, p50, p90, p95, p99, p999; "
        + "window: an integer with s, m or h)"

    /// Parses a `clearmode` label value.
    public init?(_ text: some StringProtocol) {
        switch text {
        case "aggregate", "sum": self = .aggregate
        case "replace": self = .replace
        case "family", "info": self = .family
        default:
            guard let spec = PebbleSpec(String(text)) else { return nil }
            self = .pebble(spec)
        }
    }

    public var description: String {
        switch self {
        case .aggregate: "aggregate"
        case .replace: "replace"
        case .family: "family"
        case .pebble(let spec): spec.description
        }
    }

    public var isPebble: Bool {
        if case .pebble = self { return true }
        return false
    }
}

/// A pebble clearmode such as `mean5m` or `p99_1h`: an aggregation over a time window.
public struct PebbleSpec: Sendable, Hashable, CustomStringConvertible {
    public enum Aggregation: Sendable, Hashable {
        case sum, mean, min, max, count, last
        /// A quantile in (0, 1), e.g. 0.99 for `p99`, 0.999 for `p999`.
        case quantile(Double)
    }

    public var aggregation: Aggregation
    /// The window length in seconds.
    public var windowSeconds: Int

    public init(aggregation: Aggregation, windowSeconds: Int) {
        self.aggregation = aggregation
        self.windowSeconds = windowSeconds
    }

    /// Parses `<agg><window>`: `mean5m`, `avg30s`, `p99_1h` (alias `p99-1h`). Quantiles need the separator.
    public init?(_ text: String) {
        var bytes = Array(text.utf8)
        guard let unitByte = bytes.last else { return nil }
        let unit: Int
        switch unitByte {
        case UInt8(ascii: "s"): unit = 1
        case UInt8(ascii: "m"): unit = 60
        case UInt8(ascii: "h"): unit = 3600
        default: return nil
        }
        bytes.removeLast()
        // The window's digits run back from the unit; a quantile's digits are separated by `_`.
        var digitsStart = bytes.count
        while digitsStart > 0, bytes[digitsStart - 1] >= 0x30, bytes[digitsStart - 1] <= 0x39 { digitsStart -= 1 }
        var aggEnd = digitsStart
        if aggEnd > 0, bytes[aggEnd - 1] == UInt8(ascii: "_") || bytes[aggEnd - 1] == UInt8(ascii: "-") {
            aggEnd -= 1
        }
        let windowDigits = bytes[digitsStart...]
        let agg = String(decoding: bytes[..<aggEnd], as: UTF8.self)
        guard !windowDigits.isEmpty, windowDigits.count <= 9,
            let n = Int(String(decoding: windowDigits, as: UTF8.self)), n > 0
        else { return nil }
        let aggregation: Aggregation
        switch agg {
        case "sum": aggregation = .sum
        case "mean", "avg": aggregation = .mean
        case "min": aggregation = .min
        case "max": aggregation = .max
        case "count": aggregation = .count
        case "last": aggregation = .last
        default:
            guard aggEnd < digitsStart, let q = PebbleSpec.quantileValue(agg) else { return nil }
            aggregation = .quantile(q)
        }
        self.init(aggregation: aggregation, windowSeconds: n * unit)
    }

    /// `p50` → 0.5, `p99` → 0.99, `p999` → 0.999.
    static func quantileValue(_ name: String) -> Double? {
        guard name.hasPrefix("p"), name.count >= 3, name.count <= 5 else { return nil }
        let digits = name.dropFirst()
        guard digits.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(digits), n > 0 else { return nil }
        var scale = 1.0
        for _ in 0..<digits.count { scale *= 10 }
        return Double(n) / scale
    }

    public var description: String {
        let window: String
        if windowSeconds % 3600 == 0 {
            window = "\(windowSeconds / 3600)h"
        } else if windowSeconds % 60 == 0 {
            window = "\(windowSeconds / 60)m"
        } else {
            window = "\(windowSeconds)s"
        }
        switch aggregation {
        case .sum: return "sum" + window
        case .mean: return "mean" + window
        case .min: return "min" + window
        case .max: return "max" + window
        case .count: return "count" + window
        case .last: return "last" + window
        case .quantile(let q):
            return "p\(Self.quantileDigits(q))_\(window)"
        }
    }

    /// The shortest digits (two to four) that `quantileValue` reads back as exactly `q`:
    /// `05` for 0.05, `999` for 0.999. The extension replays a batch's pebble series with this
    /// spelling, so it must round-trip; an unspellable `q` (only the initializer can make
    /// one) gets the nearest four digits.
    static func quantileDigits(_ q: Double) -> String {
        var scale = 10.0
        for width in 2...4 {
            scale *= 10
            let n = (q * scale).rounded()
            if n >= 1, n < scale, n / scale == q { return padded(Int(n), width) }
        }
        let n = q.isNaN ? 1 : Swift.min(Swift.max((q * 10_000).rounded(), 1), 9999)
        return padded(Int(n), 4)
    }

    private static func padded(_ n: Int, _ width: Int) -> String {
        let digits = String(n)
        return String(repeating: "0", count: Swift.max(0, width - digits.count)) + digits
    }
}
