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

    static func trimmed(_ s: Substring) -> Substring {
        var s = s
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        while s.last == " " || s.last == "\t" { s.removeLast() }
        return s
    }
}
