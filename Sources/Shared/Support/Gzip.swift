import CompressNIO
import NIOCore

/// gzip for request bodies and scrape responses.
public enum Gzip {
    public enum Failure: Error, Sendable, CustomStringConvertible {
        /// The inflated body would exceed the limit.
        case tooLarge(limit: Int)
        case corrupt

        public var description: String {
            switch self {
            case .tooLarge(let limit): "the decompressed body is larger than \(limit) bytes"
            case .corrupt: "the body is not valid gzip data"
            }
        }
    }

    /// Inflates a gzip body, stopping as soon as the output would pass `limit` bytes,
    /// so a small bomb cannot inflate into memory.
    public static func decompress(_ body: ByteBuffer, limit: Int) throws(Failure) -> ByteBuffer {
        var input = body
        do {
            return try input.decompress(with: .gzip(), maxSize: limit)
        } catch let error as CompressNIOError where error == .bufferOverflow {
            throw .tooLarge(limit: limit)
        } catch {
            throw .corrupt
        }
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

    /// Whether an `Accept-Encoding` header allows gzip (`gzip` or `*`, with no `q=0`).
    public static func accepts(_ acceptEncoding: String?) -> Bool {
        guard let acceptEncoding else { return false }
        for part in acceptEncoding.split(separator: ",") {
            let fields = part.split(separator: ";").map { $0.trimmingSpaces }
            guard let coding = fields.first?.lowercased(), coding == "gzip" || coding == "*" else { continue }
            for parameter in fields.dropFirst() where parameter.hasPrefix("q=") {
                if let q = Double(parameter.dropFirst(2)), q <= 0 { return false }
            }
            return true
        }
        return false
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        while s.last == " " || s.last == "\t" { s.removeLast() }
        return s
    }
}
