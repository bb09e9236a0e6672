/// Numbers spelled as Go's `fmt.Sprint` spells a float64, which is how the Pushgateway's
/// JSON API writes every value, bucket bound and quantile.
///
/// Clients that script against `/api/v1/metrics` compare these strings (bucket maps are
/// keyed by them), so `1234567` must read `1.234567e+06` as it does on the Pushgateway.
/// The rule is Go's `%g` with the shortest round-trip digits: exponent form when the
/// decimal exponent is below -4 or at least 6.
enum GoNumberText {
    static func append(_ value: Double, to out: inout [UInt8]) {
        if value.isNaN {
            out.append(contentsOf: "NaN".utf8)
            return
        }
        if value.isInfinite {
            out.append(contentsOf: (value < 0 ? "-Inf" : "+Inf").utf8)
            return
        }
        if value.sign == .minus { out.append(UInt8(ascii: "-")) }
        if value == 0 {
            out.append(UInt8(ascii: "0"))
            return
        }
        // Swift's description gives the shortest digits that read back exactly, as Go's
        // shortest mode does; only the layout differs.
        var digits: [UInt8] = []
        digits.reserveCapacity(17)
        var pointAt: Int? = nil
        var exponent = 0
        var exponentSign = 1
        var inExponent = false
        for byte in value.magnitude.description.utf8 {
            switch byte {
            case UInt8(ascii: "."): pointAt = digits.count
            case UInt8(ascii: "e"), UInt8(ascii: "E"): inExponent = true
            case UInt8(ascii: "-") where inExponent: exponentSign = -1
            case UInt8(ascii: "+"): break
            default:
                if inExponent {
                    exponent = exponent * 10 + Int(byte - UInt8(ascii: "0"))
                } else {
                    digits.append(byte)
                }
            }
        }
        // The value is 0.d1d2d3... × 10^point.
        var point = (pointAt ?? digits.count) + exponentSign * exponent
        var first = 0
        while first < digits.count - 1, digits[first] == UInt8(ascii: "0") {
            first += 1
            point -= 1
        }
        var last = digits.count
        while last > first + 1, digits[last - 1] == UInt8(ascii: "0") { last -= 1 }
        let significant = digits[first..<last]
        let decimalExponent = point - 1
        if decimalExponent < -4 || decimalExponent >= 6 {
            out.append(significant.first!)
            if significant.count > 1 {
                out.append(UInt8(ascii: "."))
                out.append(contentsOf: significant.dropFirst())
            }
            out.append(UInt8(ascii: "e"))
            out.append(UInt8(ascii: decimalExponent < 0 ? "-" : "+"))
            let magnitude = abs(decimalExponent)
            if magnitude < 10 { out.append(UInt8(ascii: "0")) }
            out.append(contentsOf: String(magnitude).utf8)
            return
        }
        if point <= 0 {
            out.append(UInt8(ascii: "0"))
            out.append(UInt8(ascii: "."))
            for _ in 0..<(-point) { out.append(UInt8(ascii: "0")) }
            out.append(contentsOf: significant)
            return
        }
        let whole = min(point, significant.count)
        out.append(contentsOf: significant.prefix(whole))
        for _ in significant.count..<max(point, significant.count) { out.append(UInt8(ascii: "0")) }
        if significant.count > point {
            out.append(UInt8(ascii: "."))
            out.append(contentsOf: significant.dropFirst(point))
        }
    }

    static func string(_ value: Double) -> String {
        var out: [UInt8] = []
        append(value, to: &out)
        return String(decoding: out, as: UTF8.self)
    }
}
