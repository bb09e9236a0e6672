/// Appends values in the compact little-endian form the gateway's log records and snapshots use.
///
/// Counts and lengths are LEB128 varints (one byte for the common small ones), signed integers
/// zigzag varints, doubles their 8 raw bytes so every value, NaN payloads included, comes back
/// bit for bit.
package struct BinaryWriter: Sendable {
    package var bytes: [UInt8]

    package init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    package mutating func u8(_ v: UInt8) { bytes.append(v) }

    package mutating func u32(_ v: UInt32) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }

    package mutating func u64(_ v: UInt64) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }

    package mutating func f64(_ v: Double) { u64(v.bitPattern) }

    package mutating func bool(_ v: Bool) { bytes.append(v ? 1 : 0) }

    package mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    package mutating func count(_ n: Int) { varint(UInt64(n)) }

    package mutating func zigzag(_ v: Int64) {
        varint(UInt64(bitPattern: (v << 1) ^ (v >> 63)))
    }

    package mutating func blob(_ b: some Collection<UInt8>) {
        count(b.count)
        bytes.append(contentsOf: b)
    }

    package mutating func string(_ s: String) { blob(s.utf8) }

    package mutating func optionalString(_ s: String?) {
        // 0 for none, else length + 1: one byte for both common cases.
        guard let s else { return varint(0) }
        varint(UInt64(s.utf8.count) + 1)
        bytes.append(contentsOf: s.utf8)
    }
}
