#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A label set in canonical form: `name="escaped value"` pairs sorted by name, joined by `,`,
/// without braces, as the bytes the text format writes between `{` and `}`.
///
/// The same bytes identify a series and render it, so a scrape copies them instead of
/// escaping and joining labels again. The `clearmode` label and the `le`/`quantile` bucket
/// labels are never part of a key.
public struct LabelKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let bytes: [UInt8]
    /// The bytes' hash, computed once: a key is looked up several times per push (the
    /// group's family, the store's owner index), and hashing an Int is cheaper than the bytes.
    let hash: Int

    public init(bytes: [UInt8]) {
        self.bytes = bytes
        var hasher = Hasher()
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
        self.hash = hasher.finalize()
    }

    /// The empty label set.
    public static let empty = LabelKey(bytes: [])

    /// Builds a key from unescaped `(name, value)` pairs; names must already be valid.
    public init(labels: [(String, String)]) {
        var out: [UInt8] = []
        for (i, (name, value)) in labels.sorted(by: { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }).enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            LabelKey.appendName(name, to: &out)
            out.append(contentsOf: #"=""#.utf8)
            LabelKey.appendEscaped(value, to: &out)
            out.append(UInt8(ascii: "\""))
        }
        self.init(bytes: out)
    }

    public var isEmpty: Bool { bytes.isEmpty }

    /// Whether the key's bytes are exactly `other` (memcmp, without hashing).
    public func hasBytes(_ other: [UInt8]) -> Bool {
        let n = bytes.count
        guard n == other.count else { return false }
        return bytes.withUnsafeBytes { a in other.withUnsafeBytes { b in n == 0 || memcmp(a.baseAddress!, b.baseAddress!, n) == 0 } }
    }

    /// The label pairs, unescaped, in key order.
    public var labels: [(name: String, value: String)] {
        var result: [(String, String)] = []
        var i = 0
        let b = bytes
        while i < b.count {
            let name: String
            if b[i] == UInt8(ascii: "\"") {
                // A UTF-8 name, quoted: `"my.label"="value"`.
                let contentStart = i + 1
                i = contentStart
                while b[i] != UInt8(ascii: "\"") { i += 1 }
                name = String(decoding: b[contentStart..<i], as: UTF8.self)
                i += 1
            } else {
                let nameStart = i
                while b[i] != UInt8(ascii: "=") { i += 1 }
                name = String(decoding: b[nameStart..<i], as: UTF8.self)
            }
            i += 2  // `="`
            var value: [UInt8] = []
            while b[i] != UInt8(ascii: "\"") {
                if b[i] == UInt8(ascii: "\\") {
                    i += 1
                    value.append(b[i] == UInt8(ascii: "n") ? 0x0A : b[i])
                } else {
                    value.append(b[i])
                }
                i += 1
            }
            result.append((name, String(decoding: value, as: UTF8.self)))
            i += 2  // `",`
        }
        return result
    }

    /// `{key}` as it appears in the text format (empty string for the empty set).
    public var description: String {
        bytes.isEmpty ? "" : "{" + String(decoding: bytes, as: UTF8.self) + "}"
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(hash)
    }

    public static func == (lhs: LabelKey, rhs: LabelKey) -> Bool {
        let n = lhs.bytes.count
        guard lhs.hash == rhs.hash, n == rhs.bytes.count else { return false }
        return lhs.bytes.withUnsafeBytes { l in
            rhs.bytes.withUnsafeBytes { r in n == 0 || memcmp(l.baseAddress!, r.baseAddress!, n) == 0 }
        }
    }

    public static func < (lhs: LabelKey, rhs: LabelKey) -> Bool {
        lhs.bytes.withUnsafeBytes { l in
            rhs.bytes.withUnsafeBytes { r in
                let n = min(l.count, r.count)
                let c = n == 0 ? 0 : memcmp(l.baseAddress!, r.baseAddress!, n)
                return c != 0 ? c < 0 : l.count < r.count
            }
        }
    }

    /// Labels in key order with `instance=""` added where it sorts when they have no
    /// `instance`, as the Pushgateway exposes every pushed series (see ``ExpositionWriter/addsEmptyInstance``).
    public static func withEmptyInstance(_ labels: [(name: String, value: String)]) -> [(name: String, value: String)] {
        guard !labels.contains(where: { $0.name == "instance" }) else { return labels }
        var labels = labels
        let at = labels.firstIndex { !$0.name.utf8.lexicographicallyPrecedes("instance".utf8) } ?? labels.count
        labels.insert((name: "instance", value: ""), at: at)
        return labels
    }

    /// Appends a label name as a key holds it: quoted when it is not a legacy name.
    public static func appendName(_ name: String, to out: inout [UInt8]) {
        if NameRules.isLegacyLabelName(name.utf8) {
            out.append(contentsOf: name.utf8)
        } else {
            NameRules.appendQuoted(name.utf8, to: &out)
        }
    }

    /// Whether the key holds a quoted (UTF-8) label name. Values escape their quotes, so an
    /// unescaped `"` at the start or after a `,` opens a name.
    public var hasQuotedName: Bool {
        guard let first = bytes.first else { return false }
        if first == UInt8(ascii: "\"") { return true }
        var previous: UInt8 = 0
        for b in bytes {
            if b == UInt8(ascii: "\""), previous == UInt8(ascii: ",") { return true }
            previous = b
        }
        return false
    }

    /// Appends a label value escaped for the text formats (`\\`, `\"`, `\n`).
    public static func appendEscaped(_ value: String, to out: inout [UInt8]) {
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\\"): out.append(contentsOf: [0x5C, 0x5C])
            case UInt8(ascii: "\""): out.append(contentsOf: [0x5C, 0x22])
            case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            default: out.append(byte)
            }
        }
    }
}
