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

    /// The name escaping a scraper asks for with the format it gets (`values`: the media
    /// types of that format): the `escaping` parameter of the highest-weighted entry among
    /// them, and `underscores`, the Prometheus default, when that entry names none.
    public static func escaping(for values: Set<String>, in header: String?) -> NameEscaping {
        guard let header else { return .underscores }
        var best = -1.0
        var scheme = NameEscaping.underscores
        for part in header.split(separator: ",") {
            let fields = part.split(separator: ";").map(trimmed)
            guard let value = fields.first?.lowercased(), values.contains(value) else { continue }
            var q = 1.0
            var named: NameEscaping? = nil
            for parameter in fields.dropFirst() {
                let pair = parameter.split(separator: "=", maxSplits: 1).map(trimmed)
                guard pair.count == 2 else { continue }
                switch pair[0].lowercased() {
                case "q": if let parsed = Double(pair[1]), parsed.isFinite { q = min(max(parsed, 0), 1) }
                case "escaping": named = NameEscaping(parameter: pair[1])
                default: break
                }
            }
            if q > best {
                best = q
                scheme = named ?? .underscores
            }
        }
        return scheme
    }

    /// A header token without the spaces and tabs around it.
    package static func trimmed(_ s: Substring) -> Substring {
        var s = s
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        while s.last == " " || s.last == "\t" { s.removeLast() }
        return s
    }
}
