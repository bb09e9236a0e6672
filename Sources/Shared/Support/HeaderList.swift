/// Comma-separated HTTP header lists with `q` weights (`Accept`, `Accept-Encoding`).
public enum HeaderList {
    /// Whether the list names one of `values` (case-insensitive) without `q=0`.
    public static func allows(_ header: String?, anyOf values: Set<String>) -> Bool {
        guard let header else { return false }
        for part in header.split(separator: ",") {
            let fields = part.split(separator: ";").map(trimmed)
            guard let value = fields.first?.lowercased(), values.contains(value) else { continue }
            for parameter in fields.dropFirst() where parameter.hasPrefix("q=") {
                if let q = Double(parameter.dropFirst(2)), q <= 0 { return false }
            }
            return true
        }
        return false
    }

    /// The highest `q` weight the list gives any of `values` (case-insensitive; 1 when an
    /// entry has no `q`), or `nil` when it names none of them.
    public static func quality(of values: Set<String>, in header: String?) -> Double? {
        guard let header else { return nil }
        var best: Double? = nil
        for part in header.split(separator: ",") {
            let fields = part.split(separator: ";").map(trimmed)
            guard let value = fields.first?.lowercased(), values.contains(value) else { continue }
            var q = 1.0
            for parameter in fields.dropFirst() where parameter.hasPrefix("q=") {
                if let parsed = Double(parameter.dropFirst(2)), parsed.isFinite { q = min(max(parsed, 0), 1) }
            }
            best = max(best ?? 0, q)
        }
        return best
    }

    static func trimmed(_ s: Substring) -> Substring {
        var s = s
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        while s.last == " " || s.last == "\t" { s.removeLast() }
        return s
    }
}
