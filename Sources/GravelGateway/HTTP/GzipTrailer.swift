import NIOCore

/// Checks that a gzip body was inflated to its end.
///
/// zlib verifies the CRC-32 and length in the trailer only when it reaches the end of the
/// stream; fed a truncated stream it returns what it could inflate without complaint, and
/// the gateway would apply a prefix of the push. The trailer's last four bytes hold the
/// inflated length (mod 2^32): a stream that was inflated to its end matches it, a cut one
/// ends in arbitrary compressed bytes that do not (but for a 2^-32 chance; a client crafting
/// such a body could as well send the prefix as a valid push).
enum GzipTrailer {
    static func matches(compressed: ByteBuffer, inflatedBytes: Int) -> Bool {
        // 10 bytes of header, 8 of trailer.
        guard compressed.readableBytes >= 18,
            let size = compressed.getInteger(
                at: compressed.readerIndex + compressed.readableBytes - 4, endianness: .little, as: UInt32.self)
        else { return false }
        return size == UInt32(truncatingIfNeeded: inflatedBytes)
    }
}
