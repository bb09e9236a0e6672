#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Number parsing on raw bytes, as Go's `strconv` reads exposition values.
enum NumberParsing {
    /// Powers of ten exactly representable as Double.
    private static let exactPowers: [Double] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ]

    /// Parses a float: decimal with optional sign, fraction and `e`/`E` exponent, or
    /// `NaN`, `Inf`, `+Inf`, `-Inf` (any case). No hex floats, no `_`.
    static func parseDouble(_ p: UnsafePointer<UInt8>, _ n: Int) -> Double? {
        guard n > 0 else { return nil }
        var i = 0
        var negative = false
        if p[0] == UInt8(ascii: "+") || p[0] == UInt8(ascii: "-") {
            negative = p[0] == UInt8(ascii: "-")
            i = 1
        }
        // Fast path: up to 19 digits with an optional point and a small exponent. The
        // result is exact when the mantissa fits 53 bits and the power of ten is exact
        // (Clinger's fast path), so it agrees with strtod.
        var mantissa: UInt64 = 0
        var digits = 0
        var fractionDigits = 0
        var sawPoint = false
        var sawDigit = false
        while i < n {
            let c = p[i]
            if c >= 0x30 && c <= 0x39 {
                sawDigit = true
                if digits < 19 {
                    if mantissa != 0 || c != 0x30 { digits += 1 }
                    mantissa = mantissa &* 10 &+ UInt64(c - 0x30)
                    if sawPoint { fractionDigits += 1 }
                } else {
                    return slowPath(p, n)
                }
            } else if c == UInt8(ascii: ".") && !sawPoint {
                sawPoint = true
            } else {
                break
            }
            i += 1
        }
        if !sawDigit { return special(p, n) }
        var exponent = 0
        if i < n {
            guard p[i] == UInt8(ascii: "e") || p[i] == UInt8(ascii: "E") else { return nil }
            i += 1
            var expNegative = false
            if i < n, p[i] == UInt8(ascii: "+") || p[i] == UInt8(ascii: "-") {
                expNegative = p[i] == UInt8(ascii: "-")
                i += 1
            }
            guard i < n else { return nil }
            while i < n {
                let c = p[i]
                guard c >= 0x30 && c <= 0x39 else { return nil }
                if exponent < 100_000 { exponent = exponent * 10 + Int(c - 0x30) }
                i += 1
            }
            if expNegative { exponent = -exponent }
        }
        let power = exponent - fractionDigits
        if mantissa < (1 << 53), power >= -22, power <= 22 {
            var value = Double(mantissa)
            value = power >= 0 ? value * exactPowers[power] : value / exactPowers[-power]
            return negative ? -value : value
        }
        return slowPath(p, n)
    }

    private static func special(_ p: UnsafePointer<UInt8>, _ n: Int) -> Double? {
        guard n <= 9 else { return nil }
        var lower: [UInt8] = []
        lower.reserveCapacity(n)
        for k in 0..<n { lower.append(p[k] | (p[k] >= 0x41 && p[k] <= 0x5A ? 0x20 : 0)) }
        switch String(decoding: lower, as: UTF8.self) {
        case "nan", "+nan", "-nan": return .nan
        case "inf", "+inf", "infinity", "+infinity": return .infinity
        case "-inf", "-infinity": return -.infinity
        default: return nil
        }
    }

    /// Long mantissas and large exponents go through the C library, after refusing
    /// what strtod accepts but Go does not (hex floats, `nan(...)`).
    private static func slowPath(_ p: UnsafePointer<UInt8>, _ n: Int) -> Double? {
        guard n < 4096 else { return nil }
        for k in 0..<n {
            let c = p[k]
            let ok =
                (c >= 0x30 && c <= 0x39) || c == UInt8(ascii: ".") || c == UInt8(ascii: "e")
                || c == UInt8(ascii: "E") || c == UInt8(ascii: "+") || c == UInt8(ascii: "-")
            if !ok { return nil }
        }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: n + 1) { buffer -> Double? in
            for k in 0..<n { buffer[k] = CChar(bitPattern: p[k]) }
            buffer[n] = 0
            var end: UnsafeMutablePointer<CChar>? = nil
            let value = strtod(buffer.baseAddress!, &end)
            guard let end, end - buffer.baseAddress! == n else { return nil }
            return value
        }
    }

    /// Parses a signed 64-bit decimal integer.
    static func parseInt64(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int64? {
        guard n > 0 else { return nil }
        var i = 0
        var negative = false
        if p[0] == UInt8(ascii: "+") || p[0] == UInt8(ascii: "-") {
            negative = p[0] == UInt8(ascii: "-")
            i = 1
        }
        guard i < n else { return nil }
        var value: Int64 = 0
        while i < n {
            let c = p[i]
            guard c >= 0x30 && c <= 0x39 else { return nil }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int64(c - 0x30))
            if o1 || o2 { return nil }
            value = a
            i += 1
        }
        return negative ? -value : value
    }
}
