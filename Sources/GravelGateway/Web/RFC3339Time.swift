/// Times as RFC 3339 text in UTC (`2026-12-01T12:17:16.893053Z`), as Go's `time.Time`
/// marshals to JSON, without Foundation's date formatters.
enum RFC3339Time {
    /// Seconds since the Unix epoch to `YYYY-MM-DDThh:mm:ss[.ffffff]Z`.
    ///
    /// The fraction keeps microseconds (a Double of today's epoch seconds holds no more),
    /// without trailing zeros, as Go's RFC3339Nano drops them.
    static func string(_ seconds: Double, separator: Character = "T", zone: String = "Z") -> String {
        let micros = Int64((seconds * 1_000_000).rounded())
        var days = micros / 86_400_000_000
        var rest = micros % 86_400_000_000
        if rest < 0 {
            rest += 86_400_000_000
            days -= 1
        }
        let (year, month, day) = civil(daysSinceEpoch: days)
        let secondOfDay = rest / 1_000_000
        let fraction = rest % 1_000_000
        var text = pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2)
        text.append(separator)
        text += pad(secondOfDay / 3600, 2) + ":" + pad(secondOfDay / 60 % 60, 2) + ":" + pad(secondOfDay % 60, 2)
        if fraction > 0 {
            var digits = pad(fraction, 6)
            while digits.hasSuffix("0") { digits.removeLast() }
            text += "." + digits
        }
        return text + zone
    }

    /// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
    /// `civil_from_days`: eras of 400 years, years starting in March so leap days come last).
    static func civil(daysSinceEpoch: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = daysSinceEpoch + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}
