/// Durations as options write them: `90s`, `15m`, `2h`, `1h30m`, `500ms`, `1d`.
enum DurationText {
    /// The duration, or `nil` when the text is not one or is not positive.
    static func parse(_ text: String) -> Duration? {
        var total = Duration.zero
        var rest = Substring(text)
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, digits.count <= 9, let value = Int64(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            let unit = rest.prefix { $0.isASCII && $0.isLetter }
            rest = rest.dropFirst(unit.count)
            switch unit {
            case "ms": total += .milliseconds(value)
            case "s": total += .seconds(value)
            case "m": total += .seconds(value * 60)
            case "h": total += .seconds(value * 3600)
            case "d": total += .seconds(value * 86400)
            default: return nil
            }
        }
        return total > .zero ? total : nil
    }

    static let help = "a number with a unit, e.g. 90s, 15m, 2h, 1h30m (units ms, s, m, h, d)"
}
