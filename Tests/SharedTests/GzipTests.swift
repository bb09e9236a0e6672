import NIOCore
import Shared
import Testing

@Suite("gzip bodies")
struct GzipTests {
    let body = ByteBuffer(string: String(repeating: "gz_metric_total 1\n", count: 200))

    @Test("A whole stream inflates to the original")
    func whole() throws {
        let inflated = try Gzip.decompress(Gzip.compress(body), limit: 1 << 20)
        #expect(inflated == body)
    }

    @Test("Every cut of the stream is refused, whatever the inflater made of it")
    func truncated() {
        let compressed = Gzip.compress(body)
        for length in 0..<compressed.readableBytes {
            let cut = compressed.getSlice(at: compressed.readerIndex, length: length)!
            #expect(throws: Gzip.Failure.self, "cut at \(length)") { try Gzip.decompress(cut, limit: 1 << 20) }
        }
    }

    @Test("Trailing bytes after the stream are refused")
    func trailing() {
        var compressed = Gzip.compress(body)
        compressed.writeString("junk")
        #expect(throws: Gzip.Failure.self) { try Gzip.decompress(compressed, limit: 1 << 20) }
    }

    @Test("The limit is exact: one byte over is too large, the exact size passes")
    func exactLimit() throws {
        let compressed = Gzip.compress(body)
        #expect(try Gzip.decompress(compressed, limit: body.readableBytes).readableBytes == body.readableBytes)
        do {
            _ = try Gzip.decompress(compressed, limit: body.readableBytes - 1)
            Issue.record("accepted over the limit")
        } catch {
            guard case .tooLarge = error else {
                Issue.record("wrong error \(error)")
                return
            }
        }
    }

    @Test(
        "Accept-Encoding negotiation",
        arguments: [
            ("gzip", true), ("deflate, gzip;q=0.5", true), ("gzip;q=0", false), ("*", true), ("identity", false), (nil, false),
        ] as [(String?, Bool)])
    func accepts(header: String?, expected: Bool) {
        #expect(Gzip.accepts(header) == expected)
    }
}
