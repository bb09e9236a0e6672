/// How a scrape writes metric and label names outside the legacy character set
/// (`[a-zA-Z_:][a-zA-Z0-9_:]*`), as Prometheus 3 negotiates it with the `escaping`
/// parameter of its Accept header. Names are stored as pushed; only the output changes.
public enum NameEscaping: String, Sendable, CaseIterable {
    /// Names as they are, quoted where they need it: `{"my.metric","my.label"="v"}`.
    case allowUTF8 = "allow-utf-8"
    /// Every character outside the legacy set becomes `_` (the default of a scrape that asks for none).
    case underscores
    /// `.` becomes `_dot_`, `_` becomes `__`, anything else outside the set `_`; applied to every name.
    case dots
    /// `U__` and `_<hex code point>_` for each character outside the set, `__` for `_`: reversible.
    case values

    /// The scheme an `escaping=` parameter names (`allow-utf8` is accepted as the
    /// Prometheus documentation spells it in places); `nil` for an unknown one.
    public init?(parameter: some StringProtocol) {
        switch parameter.lowercased() {
        case "allow-utf-8", "allow-utf8": self = .allowUTF8
        case "underscores": self = .underscores
        case "dots": self = .dots
        case "values": self = .values
        default: return nil
        }
    }
}

/// The rules for metric and label names, legacy and UTF-8.
public enum NameRules {
    /// `[a-zA-Z_:][a-zA-Z0-9_:]*`: a metric name that needs no quotes and no escaping.
    @inline(__always) public static func isLegacyMetricName(_ name: some Collection<UInt8>) -> Bool {
        isLegacy(name, colon: true)
    }

    /// `[a-zA-Z_][a-zA-Z0-9_]*`: a label name that needs no quotes and no escaping.
    @inline(__always) public static func isLegacyLabelName(_ name: some Collection<UInt8>) -> Bool {
        isLegacy(name, colon: false)
    }

    @inline(__always) static func isLegacy(_ name: some Collection<UInt8>, colon: Bool) -> Bool {
        var first = true
        for b in name {
            guard isLegacyByte(b, first: first, colon: colon) else { return false }
            first = false
        }
        return !first
    }

    @inline(__always) static func isLegacyByte(_ b: UInt8, first: Bool, colon: Bool) -> Bool {
        (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || b == 0x5F || (colon && b == 0x3A) || (!first && b >= 0x30 && b <= 0x39)
    }

    /// Why a UTF-8 name cannot be used, or `nil` when it can. It must not be empty, and
    /// holds no control character, `"` or `\\`: names have no escapes in Gravel, so a
    /// quoted name's bytes are the name and a key's label order is the names' byte order.
    public static func problem(withUTF8Name name: some Collection<UInt8>) -> String? {
        if name.isEmpty { return "a name cannot be empty" }
        if name.contains(where: { $0 < 0x20 || $0 == 0x7F }) { return "a name cannot contain control characters" }
        if name.contains(where: { $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            return "a name cannot contain \" or \\"
        }
        return nil
    }

    /// The same for a label name, which also must not start with `__` once escaped for a
    /// legacy scraper (`.b` and `[.b` would be `_b` and `__b`, a reserved name).
    public static func problem(withUTF8LabelName name: some Collection<UInt8>) -> String? {
        if let problem = problem(withUTF8Name: name) { return problem }
        if isLegacyLabelName(name) { return nil }
        let escaped = escape(Array(name), .underscores, label: true)
        if escaped.count >= 2, escaped[0] == 0x5F, escaped[1] == 0x5F {
            return
                "it would be \(String(decoding: escaped, as: UTF8.self)) to a scraper without UTF-8 names, and names starting with __ are reserved"
        }
        return nil
    }

    /// Appends `"name"`, as the text formats write a UTF-8 name (see ``problem(withUTF8Name:)``).
    public static func appendQuoted(_ name: some Sequence<UInt8>, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        out.append(contentsOf: name)
        out.append(UInt8(ascii: "\""))
    }

    /// A name written with `scheme`; `label` selects the label name rule (no `:`).
    ///
    /// Legacy names come back as they are, except under `dots`, which doubles every `_`.
    public static func escape(_ name: [UInt8], _ scheme: NameEscaping, label: Bool = false) -> [UInt8] {
        let colon = !label
        switch scheme {
        case .allowUTF8:
            return name
        case .underscores:
            if isLegacy(name, colon: colon) { return name }
            var out: [UInt8] = []
            out.reserveCapacity(name.count)
            forEachScalar(name) { _, ascii, first in
                if let b = ascii, isLegacyByte(b, first: first, colon: colon) { out.append(b) } else { out.append(0x5F) }
            }
            return out
        case .dots:
            var out: [UInt8] = []
            out.reserveCapacity(name.count + 8)
            forEachScalar(name) { _, ascii, first in
                switch ascii {
                case UInt8(ascii: "_"): out.append(contentsOf: [0x5F, 0x5F])
                case UInt8(ascii: "."): out.append(contentsOf: Array("_dot_".utf8))
                case let b? where isLegacyByte(b, first: first, colon: colon): out.append(b)
                default: out.append(UInt8(ascii: "_"))
                }
            }
            return out
        case .values:
            if isLegacy(name, colon: colon) { return name }
            var out: [UInt8] = Array("U__".utf8)
            out.reserveCapacity(name.count * 2 + 3)
            forEachScalar(name) { scalar, ascii, first in
                switch ascii {
                case UInt8(ascii: "_"): out.append(contentsOf: [0x5F, 0x5F])
                case let b? where isLegacyByte(b, first: first, colon: colon): out.append(b)
                default:
                    out.append(UInt8(ascii: "_"))
                    out.append(contentsOf: String(scalar.value, radix: 16).utf8)
                    out.append(UInt8(ascii: "_"))
                }
            }
            return out
        }
    }

    /// Calls `body` with each Unicode scalar of valid UTF-8 `name`, its byte when it is
    /// ASCII, and whether it is the first.
    static func forEachScalar(_ name: [UInt8], _ body: (Unicode.Scalar, UInt8?, Bool) -> Void) {
        var first = true
        for scalar in String(decoding: name, as: UTF8.self).unicodeScalars {
            body(scalar, scalar.isASCII ? UInt8(scalar.value) : nil, first)
            first = false
        }
    }

    /// The name a `U__` value-escaped name stands for (`U__my_2e_label` is `my.label`), as
    /// the Pushgateway reads label names in push paths with UTF-8 names on. A name without
    /// the prefix, or one that does not decode, is returned as it is.
    public static func unescapeValues(_ name: String) -> String {
        let bytes = Array(name.utf8)
        guard bytes.count > 3, bytes[0] == UInt8(ascii: "U"), bytes[1] == 0x5F, bytes[2] == 0x5F else { return name }
        var out: [UInt8] = []
        var i = 3
        while i < bytes.count {
            if bytes[i] != 0x5F {
                out.append(bytes[i])
                i += 1
                continue
            }
            i += 1
            guard i < bytes.count else { return name }
            if bytes[i] == 0x5F {
                out.append(0x5F)
                i += 1
                continue
            }
            var code: UInt32 = 0
            var digits = 0
            while i < bytes.count, bytes[i] != 0x5F {
                guard digits < 6, let digit = hexValue(bytes[i]) else { return name }
                code = code * 16 + UInt32(digit)
                digits += 1
                i += 1
            }
            guard i < bytes.count, digits > 0, let scalar = Unicode.Scalar(code) else { return name }
            out.append(contentsOf: String(Character(scalar)).utf8)
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
