/// Writes HTML into a byte buffer; every value that is not markup goes through an escape.
///
/// Label names and values, help texts and metric names on the status page are user
/// input: `text(_:)` and `attribute(_:_:)` escape all five characters that can end a text
/// node or a quoted attribute, so no pushed string can open a tag or a script.
struct HTMLWriter {
    private(set) var bytes: [UInt8]

    init(capacity: Int = 1 << 16) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Markup written by the page itself, never user input.
    mutating func raw(_ markup: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: markup.utf8Start, count: markup.utf8CodeUnitCount))
    }

    /// Escaped text.
    mutating func text(_ value: String) {
        for byte in value.utf8 { appendEscaped(byte) }
    }

    /// An integer (needs no escaping).
    mutating func number(_ value: Int) {
        bytes.append(contentsOf: String(value).utf8)
    }

    /// ` name="escaped value"`.
    mutating func attribute(_ name: StaticString, _ value: String) {
        bytes.append(0x20)
        raw(name)
        bytes.append(contentsOf: [UInt8(ascii: "="), UInt8(ascii: "\"")])
        text(value)
        bytes.append(UInt8(ascii: "\""))
    }

    private mutating func appendEscaped(_ byte: UInt8) {
        switch byte {
        case UInt8(ascii: "&"): bytes.append(contentsOf: "&amp;".utf8)
        case UInt8(ascii: "<"): bytes.append(contentsOf: "&lt;".utf8)
        case UInt8(ascii: ">"): bytes.append(contentsOf: "&gt;".utf8)
        case UInt8(ascii: "\""): bytes.append(contentsOf: "&quot;".utf8)
        case UInt8(ascii: "'"): bytes.append(contentsOf: "&#39;".utf8)
        default: bytes.append(byte)
        }
    }
}
