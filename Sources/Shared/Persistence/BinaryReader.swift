/// Reads what ``BinaryWriter`` wrote, refusing truncated or malformed input with an error
/// instead of trapping: a reader may be handed any bytes from a damaged disk.
package struct BinaryReader {
    package struct Malformed: Error, Sendable, CustomStringConvertible {
        package let offset: Int
        package let reason: String
        package var description: String { "malformed data at byte \(offset): \(reason)" }
    }

    package let bytes: [UInt8]
    package private(set) var offset: Int
    let end: Int

    package init(_ bytes: [UInt8], offset: Int = 0, end: Int? = nil) {
        self.bytes = bytes
        self.offset = offset
        self.end = end ?? bytes.count
    }

    package var remaining: Int { end - offset }
    package var isAtEnd: Bool { offset >= end }

    package func fail(_ reason: String) -> Malformed { Malformed(offset: offset, reason: reason) }

    mutating func need(_ n: Int) throws(Malformed) {
        guard n >= 0, n <= end - offset else { throw fail("needs \(n) bytes, \(end - offset) left") }
    }

    package mutating func u8() throws(Malformed) -> UInt8 {
        try need(1)
        defer { offset += 1 }
        return bytes[offset]
    }

    package mutating func u32() throws(Malformed) -> UInt32 {
        try need(4)
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(bytes[offset + i]) << (8 * i) }
        offset += 4
        return v
    }

    package mutating func u64() throws(Malformed) -> UInt64 {
        try need(8)
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(bytes[offset + i]) << (8 * i) }
        offset += 8
        return v
    }

    package mutating func f64() throws(Malformed) -> Double { Double(bitPattern: try u64()) }

    package mutating func bool() throws(Malformed) -> Bool {
        switch try u8() {
        case 0: return false
        case 1: return true
        default: throw fail("a boolean must be 0 or 1")
        }
    }

    package mutating func varint() throws(Malformed) -> UInt64 {
        var v: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try u8()
            guard shift < 64, !(shift == 63 && b > 1) else { throw fail("varint longer than 64 bits") }
            v |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return v }
            shift += 7
        }
    }

    /// A count or length, checked against what is left so a damaged one cannot make a reader
    /// reserve gigabytes: every counted item takes at least `minimumItemBytes`.
    package mutating func count(minimumItemBytes: Int = 1) throws(Malformed) -> Int {
        let v = try varint()
        guard v <= UInt64(remaining / max(1, minimumItemBytes)) else { throw fail("count \(v) exceeds the data left") }
        return Int(v)
    }

    package mutating func zigzag() throws(Malformed) -> Int64 {
        let v = try varint()
        return Int64(bitPattern: v >> 1) ^ -Int64(bitPattern: v & 1)
    }

    package mutating func blob() throws(Malformed) -> ArraySlice<UInt8> {
        let n = try count()
        defer { offset += n }
        return bytes[offset..<offset + n]
    }

    package mutating func string() throws(Malformed) -> String {
        let b = try blob()
        guard let s = String(validating: b, as: UTF8.self) else { throw fail("string is not UTF-8") }
        return s
    }

    package mutating func optionalString() throws(Malformed) -> String? {
        let n = try varint()
        guard n > 0 else { return nil }
        guard n - 1 <= UInt64(remaining) else { throw fail("string of \(n - 1) bytes exceeds the data left") }
        let b = bytes[offset..<offset + Int(n - 1)]
        offset += Int(n - 1)
        guard let s = String(validating: b, as: UTF8.self) else { throw fail("string is not UTF-8") }
        return s
    }
}
