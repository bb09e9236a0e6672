/// Writes JSON text into a byte buffer, one token at a time.
///
/// The JSON API's shapes are fixed and small; writing them directly keeps the output's
/// key order under our control (the Pushgateway's Go encoder sorts map keys) and costs
/// no intermediate dictionaries. Callers keep objects and arrays balanced.
struct JSONWriter {
    private(set) var bytes: [UInt8]
    /// Whether the next value or key follows a sibling and needs a comma first.
    private var needsComma = false

    init(capacity: Int = 4096) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    mutating func beginObject() {
        separate()
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    mutating func beginArray() {
        separate()
        bytes.append(UInt8(ascii: "["))
        needsComma = false
    }

    mutating func endArray() {
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    /// An object key; the next call writes its value.
    mutating func key(_ name: String) {
        separate()
        appendQuoted(name)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    mutating func string(_ value: String) {
        separate()
        appendQuoted(value)
        needsComma = true
    }

    mutating func bool(_ value: Bool) {
        separate()
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
        needsComma = true
    }

    /// A number written as a JSON string in Go's spelling, as the Pushgateway writes values.
    mutating func goNumberString(_ value: Double) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        GoNumberText.append(value, to: &bytes)
        bytes.append(UInt8(ascii: "\""))
        needsComma = true
    }

    /// `"key":"value"`.
    mutating func field(_ name: String, _ value: String) {
        key(name)
        string(value)
    }

    /// An object of string pairs, written in the given order.
    mutating func stringObject(_ pairs: [(String, String)]) {
        beginObject()
        for (name, value) in pairs { field(name, value) }
        endObject()
    }

    private mutating func separate() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// A string with the escapes RFC 8259 requires (quote, backslash, U+0000 to U+001F),
    /// plus `<`, `>`, `&`, U+2028 and U+2029 as `\u` escapes, as Go's encoder writes them:
    /// label values are user input, and the JSON may be pasted into HTML or a script.
    private mutating func appendQuoted(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        var utf8 = text.utf8.makeIterator()
        while let byte = utf8.next() {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: bytes.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0x00..<0x20, UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "&"):
                appendUnicodeEscape(UInt16(byte))
            case 0xE2:
                // U+2028 and U+2029 are E2 80 A8 / E2 80 A9; other E2 sequences pass through.
                guard let second = utf8.next() else {
                    bytes.append(byte)
                    continue
                }
                guard let third = utf8.next() else {
                    bytes.append(contentsOf: [byte, second])
                    continue
                }
                if second == 0x80, third == 0xA8 || third == 0xA9 {
                    appendUnicodeEscape(third == 0xA8 ? 0x2028 : 0x2029)
                } else {
                    bytes.append(contentsOf: [byte, second, third])
                }
            default:
                bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private mutating func appendUnicodeEscape(_ unit: UInt16) {
        bytes.append(contentsOf: [0x5C, UInt8(ascii: "u")])
        for shift in stride(from: 12, through: 0, by: -4) {
            bytes.append(Self.hexDigits[Int((unit >> UInt16(shift)) & 0xF)])
        }
    }
}
