@testable import GravelGateway
import NIOCore
import Shared
import Testing

@Suite("gzip trailer")
struct GzipTrailerTests {
    let body = ByteBuffer(string: String(repeating: "gz_metric_total 1\n", count: 200))

    @Test("A whole stream matches its inflated size")
    func whole() throws {
        let compressed = Gzip.compress(body)
        let inflated = try Gzip.decompress(compressed, limit: 1 << 20)
        #expect(inflated.readableBytes == body.readableBytes)
        #expect(GzipTrailer.matches(compressed: compressed, inflatedBytes: inflated.readableBytes))
    }

    @Test("Every cut of the stream is caught, whatever the inflater made of it")
    func truncated() {
        let compressed = Gzip.compress(body)
        for length in 0..<compressed.readableBytes {
            let cut = compressed.getSlice(at: compressed.readerIndex, length: length)!
            guard let inflated = try? Gzip.decompress(cut, limit: 1 << 20) else { continue }
            #expect(!GzipTrailer.matches(compressed: cut, inflatedBytes: inflated.readableBytes), "cut at \(length)")
        }
    }

    @Test("Trailing bytes after the stream are caught")
    func trailing() throws {
        var compressed = Gzip.compress(body)
        compressed.writeString("junk")
        if let inflated = try? Gzip.decompress(compressed, limit: 1 << 20) {
            #expect(!GzipTrailer.matches(compressed: compressed, inflatedBytes: inflated.readableBytes))
        }
    }
}
