/// How records sit in a segment file: `length: u32 LE`, `crc: u32 LE`, then `length` bytes of
/// payload. The CRC-32C covers the length bytes and the payload, so a damaged length is
/// caught as surely as a damaged payload; a torn write leaves a frame whose length runs past
/// the end of the file or whose checksum fails.
enum WALFrame {
    static let headerBytes = 8
    /// Larger lengths are damage: no push body comes near it.
    static let maximumPayloadBytes = 1 << 30

    static func append(payload: [UInt8], to out: inout [UInt8]) {
        let length = UInt32(payload.count)
        var header: [UInt8] = []
        withUnsafeBytes(of: length.littleEndian) { header.append(contentsOf: $0) }
        var crc = header.withUnsafeBytes { CRC32C.update(0, $0) }
        crc = payload.withUnsafeBytes { CRC32C.update(crc, $0) }
        out.append(contentsOf: header)
        withUnsafeBytes(of: crc.littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: payload)
    }

    /// The payload range of a valid frame at `offset`, or nil.
    static func validFrame(in bytes: UnsafeRawBufferPointer, at offset: Int) -> Range<Int>? {
        guard bytes.count - offset >= headerBytes else { return nil }
        let length = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
        guard length >= WALRecord.minimumPayloadBytes, length <= maximumPayloadBytes,
            length <= bytes.count - offset - headerBytes
        else { return nil }
        let start = offset + headerBytes
        // Cheap checks before the checksum, so scanning garbage for the next frame stays fast.
        guard bytes[start] == WALRecord.formatVersion, WALRecord.Operation(rawValue: bytes[start + 1]) != nil else { return nil }
        let stored = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self))
        var crc = CRC32C.update(0, UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + 4]))
        crc = CRC32C.update(crc, UnsafeRawBufferPointer(rebasing: bytes[start..<start + length]))
        return crc == stored ? start..<start + length : nil
    }

    /// The first offset after `offset` where a valid frame starts, if any.
    static func nextValidFrame(in bytes: UnsafeRawBufferPointer, after offset: Int) -> Int? {
        var p = offset + 1
        while p + headerBytes + WALRecord.minimumPayloadBytes <= bytes.count {
            if validFrame(in: bytes, at: p) != nil { return p }
            p += 1
        }
        return nil
    }
}
