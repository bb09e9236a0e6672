import CompressNIO
import NIOCore

/// gzip for request bodies and scrape responses.
public enum Gzip {
    public enum Failure: Error, Sendable, CustomStringConvertible {
        /// The inflated body would exceed the limit.
        case tooLarge(limit: Int)
        case corrupt
        /// The stream was cut short, or bytes follow its end.
        case truncated

        public var description: String {
            switch self {
            case .tooLarge(let limit): "the decompressed body is larger than \(limit) bytes"
            case .corrupt: "the body is not valid gzip data"
            case .truncated: "the gzip body is truncated or has trailing data; send the whole stream"
            }
        }
    }

    /// Inflates a whole gzip body, stopping as soon as the output would pass `limit` bytes,
    /// so a small bomb cannot inflate into memory.
    ///
    /// zlib checks the trailer only when it reaches the end of the stream; fed a cut stream it
    /// returns what it could inflate without complaint, and a caller would apply a prefix of
    /// the body. So the trailer's inflated length (mod 2^32) must match what came out: a cut
    /// stream ends in compressed bytes that do not match (but for a 2^-32 chance).
    public static func decompress(_ body: ByteBuffer, limit: Int) throws(Failure) -> ByteBuffer {
        var input = body
        let output: ByteBuffer
        do {
            output = try input.decompress(with: .gzip(), maxSize: limit)
        } catch let error as CompressNIOError where error == .bufferOverflow {
            throw .tooLarge(limit: limit)
        } catch {
            throw .corrupt
        }
        // The inflater's buffers round up past the limit; the limit is exact.
        guard output.readableBytes <= limit else { throw .tooLarge(limit: limit) }
        // 10 bytes of header, 8 of trailer (CRC-32, then the length).
        guard body.readableBytes >= 18,
            let size = body.getInteger(at: body.readerIndex + body.readableBytes - 4, endianness: .little, as: UInt32.self),
            size == UInt32(truncatingIfNeeded: output.readableBytes)
        else { throw .truncated }
        return output
    }

    /// Deflates into a gzip stream.
    public static func compress(_ body: ByteBuffer) -> ByteBuffer {
        var input = body
        do {
            return try input.compress(with: .gzip())
        } catch {
            // zlib only fails here on allocation failure; sending uncompressed is not an
            // option once the caller chose the encoding, so fail loudly.
            fatalError("gzip compression failed: \(error)")
        }
    }

    /// A gzip stream compressed chunk by chunk, for responses written as they are rendered:
    /// memory stays at zlib's state and one window, however large the whole response.
    public final class Stream {
        private let compressor: ZlibCompressor
        private var window = ByteBufferAllocator().buffer(capacity: 64 * 1024)

        public init() {
            do {
                compressor = try ZlibCompressor(algorithm: .gzip)
            } catch {
                // As in `compress(_:)`: zlib fails here only when out of memory.
                fatalError("gzip compressor: \(error)")
            }
        }

        /// Compresses one chunk and returns the compressed bytes ready so far (zlib keeps
        /// some until it has a block); `last` ends the stream, trailer included.
        public func compress(_ chunk: ByteBuffer, last: Bool) -> ByteBuffer {
            var input = chunk
            var output = ByteBuffer()
            do {
                try input.compressStream(with: compressor, window: &window, flush: last ? .finish : .no) { block in
                    var block = block
                    output.writeBuffer(&block)
                }
            } catch {
                fatalError("gzip compression failed: \(error)")
            }
            return output
        }
    }

    /// Whether an `Accept-Encoding` header allows gzip (`gzip` or `*`, with no `q=0`).
    public static func accepts(_ acceptEncoding: String?) -> Bool {
        HeaderList.allows(acceptEncoding, anyOf: ["gzip", "*"])
    }
}
