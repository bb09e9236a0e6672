import PropertyBased
import Testing

@testable import Shared

@Suite("Native histograms in the protobuf format")
struct NativeProtobufTests {
    func parse(_ bytes: [UInt8], grouping: GroupingKey = .empty) throws(ExpositionError) -> ParsedPush {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(ExpositionError) in try ProtobufExposition.parse(raw, grouping: grouping) }
        }
        return try result.get()
    }

    func zigzag(_ n: Int64) -> UInt64 { UInt64(bitPattern: (n << 1) ^ (n >> 63)) }

    /// A `Histogram` message as client_golang 1.14 writes one with `NativeHistogramBucketFactor`
    /// set: schema 3, a small gap filled with an empty bucket, a larger one as a new span.
    func goHistogram(_ h: inout ProtoWriter, classic: Bool, packed: Bool = false) {
        h.uint(1, 9)
        h.double(2, 7.5)
        if classic {
            h.message(3) {
                $0.uint(1, 4)
                $0.double(2, 1)
            }
            h.message(3) {
                $0.uint(1, 8)
                $0.double(2, 10)
            }
        }
        h.uint(5, 6)  // schema 3, zigzag
        h.double(6, 0x1p-128)
        h.uint(7, 1)
        h.message(9) {
            $0.uint(1, zigzag(-1))
            $0.uint(2, 1)
        }
        h.tag(10, 0)
        h.varint(zigzag(2))
        h.message(12) {
            $0.uint(1, zigzag(2))
            $0.uint(2, 3)
        }
        h.message(12) {
            $0.uint(1, zigzag(4))
            $0.uint(2, 1)
        }
        let deltas: [Int64] = [1, 1, -2, 3]
        if packed {
            var inner = ProtoWriter()
            for d in deltas { inner.varint(zigzag(d)) }
            h.tag(13, 2)
            h.varint(UInt64(inner.bytes.count))
            h.bytes += inner.bytes
        } else {
            for d in deltas {
                h.tag(13, 0)
                h.varint(zigzag(d))
            }
        }
    }

    /// What `goHistogram` describes: counts 1, 2, 0, 3 at 2...4 and 9 (4 + 1 after the span ending at 5).
    let expected = NativeHistogram(
        schema: 3, zeroThreshold: 0x1p-128, zeroCount: 1, count: 9, sum: 7.5,
        positive: [.init(index: 2, count: 1), .init(index: 3, count: 2), .init(index: 9, count: 3)],
        negative: [.init(index: -1, count: 2)])

    @Test("client_golang's native histograms are read: spans, deltas, zero bucket; classic buckets kept beside them")
    func reads() throws {
        var w = ProtoWriter()
        w.delimited { f in
            f.string(1, "rpc_seconds")
            f.string(2, "RPC latency.")
            f.uint(3, 4)
            f.message(4) { m in
                m.label("path", "/a")
                m.message(7) { goHistogram(&$0, classic: false) }
            }
            f.message(4) { m in
                m.label("path", "/b")
                m.message(7) { goHistogram(&$0, classic: true, packed: true) }
            }
        }
        let push = try parse(w.bytes, grouping: GroupingKey(labels: [("job", "go")]))
        let family = try #require(push.family("rpc_seconds"))
        #expect(family.type == .histogram)
        #expect(family.series.map(\.key.description) == [#"{job="go",path="/a"}"#, #"{job="go",path="/b"}"#])
        #expect(family.series[0].value == .nativeHistogram(expected, classic: nil))
        let classic = HistogramValue(
            buckets: [Bucket(upperBound: 1, count: 4), Bucket(upperBound: 10, count: 8), Bucket(upperBound: .infinity, count: 9)], sum: 7.5)
        #expect(family.series[1].value == .nativeHistogram(expected, classic: classic))
    }

    @Test("Inconsistent native fields are refused with a message naming the histogram")
    func refusals() {
        func body(_ build: @escaping (inout ProtoWriter) -> Void) -> [UInt8] {
            var w = ProtoWriter()
            w.delimited { f in
                f.string(1, "h")
                f.uint(3, 4)
                f.message(4) { m in m.message(7) { build(&$0) } }
            }
            return w.bytes
        }
        let cases: [(String, [UInt8])] = [
            (
                "schema 9",
                body { h in
                    h.uint(1, 1)
                    h.uint(5, 18)
                }
            ),
            (
                "count 1 but 5",
                body { h in
                    h.uint(1, 1)
                    h.uint(5, 0)
                    h.message(12) { $0.uint(2, 1) }
                    h.tag(13, 0)
                    h.varint(10)
                }
            ),
            (
                "bucket count -1",
                body { h in
                    h.uint(1, 9)
                    h.uint(5, 0)
                    h.message(12) { $0.uint(2, 1) }
                    h.tag(13, 0)
                    h.varint(1)
                }
            ),
            (
                "zero threshold -1",
                body { h in
                    h.uint(1, 1)
                    h.double(6, -1)
                }
            ),
        ]
        for (message, bytes) in cases {
            #expect(throws: ExpositionError.self, "\(message)") { try parse(bytes) }
            do { _ = try parse(bytes) } catch { #expect(error.message.contains("native histogram h"), "\(error.message)") }
        }
    }

    @Test("A native-only family is left out of text scrapes; with classic buckets the text shows those")
    func textShowsClassicOnly() {
        let writer = ExpositionWriter(format: .text)
        let classic = HistogramValue(buckets: [Bucket(upperBound: .infinity, count: 9)], sum: 7.5)
        #expect(writer.shows(.nativeHistogram(expected, classic: nil)) == nil)
        #expect(writer.shows(.nativeHistogram(expected, classic: classic)) == .histogram(classic))
        #expect(ProtobufWriter().shows(.nativeHistogram(expected, classic: nil)) == .nativeHistogram(expected, classic: nil))
    }

    // MARK: - Writer round trip

    func write(_ families: [ParsedFamily], emptyInstance: Bool = false) -> [UInt8] {
        var writer = ProtobufWriter()
        writer.addsEmptyInstance = emptyInstance
        for family in families {
            let names = writer.names(family: family.name, type: family.type)
            writer.writeHeader(metadataName: names.metadata, type: family.type, help: family.help)
            for series in family.series {
                writer.writeSeries(name: names.sample, type: family.type, key: series.key, value: series.value)
            }
        }
        writer.finish()
        return writer.takeBytes()
    }

    func same(_ a: [ParsedFamily], _ b: [ParsedFamily]) {
        #expect(a.map(\.name) == b.map(\.name))
        #expect(a.map(\.type) == b.map(\.type))
        #expect(a.map(\.help) == b.map(\.help))
        for (x, y) in zip(a, b) {
            #expect(x.series.map(\.key) == y.series.map(\.key), "\(x.name)")
            #expect(x.series.map(\.value) == y.series.map(\.value), "\(x.name)")
        }
    }

    @Test("Every type written as protobuf reads back as the same series")
    func roundTrip() throws {
        let key = LabelKey(labels: [("job", "batch"), ("path", "/a \"b\"\n")])
        let classic = HistogramValue(
            buckets: [Bucket(upperBound: 0.5, count: 2), Bucket(upperBound: 1, count: 5), Bucket(upperBound: .infinity, count: 9)], sum: 7.5
        )
        let families = [
            ParsedFamily(
                name: "done_total", type: .counter, help: "Done.", series: [ParsedSeries(key: key, mode: .aggregate, value: .scalar(3))]),
            ParsedFamily(name: "requests", type: .counter, series: [ParsedSeries(key: .empty, mode: .aggregate, value: .scalar(1))]),
            ParsedFamily(
                name: "temperature", type: .gauge, help: "Line\nbreak \\ slash.",
                series: [ParsedSeries(key: key, mode: .replace, value: .scalar(-21.25))]),
            // +Inf survives the round trip; a gauge, because infinities are refused where values add up.
            ParsedFamily(name: "thing", type: .gauge, series: [ParsedSeries(key: key, mode: .replace, value: .scalar(.infinity))]),
            ParsedFamily(
                name: "latency", type: .summary,
                series: [
                    ParsedSeries(
                        key: key, mode: .aggregate,
                        value: .summary(
                            SummaryValue(
                                quantiles: [Quantile(quantile: 0.5, value: 0.25), Quantile(quantile: 0.99, value: 2)], sum: 12.5, count: 40)
                        ))
                ]),
            ParsedFamily(name: "size", type: .histogram, series: [ParsedSeries(key: key, mode: .aggregate, value: .histogram(classic))]),
            ParsedFamily(
                name: "rpc_seconds", type: .histogram,
                series: [
                    ParsedSeries(
                        key: LabelKey(labels: [("path", "/a")]), mode: .aggregate, value: .nativeHistogram(expected, classic: nil)),
                    ParsedSeries(
                        key: LabelKey(labels: [("path", "/b")]), mode: .aggregate, value: .nativeHistogram(expected, classic: classic)),
                ]),
        ]
        let back = try parse(write(families))
        same(back.families, families)
    }

    @Test("Random native histograms, integer and float, survive a write and a read")
    func roundTripProperty() async {
        await propertyCheck(count: 200, input: Observed.gen, Gen.bool) { observed, float in
            var h = observed.histogram
            if float {
                h.floatCounts = true
                h.count *= 0.5
                h.zeroCount *= 0.5
                for k in h.positive.indices { h.positive[k].count *= 0.5 }
                for k in h.negative.indices { h.negative[k].count *= 0.5 }
            }
            let family = ParsedFamily(
                name: "h", type: .histogram,
                series: [
                    ParsedSeries(key: LabelKey(labels: [("job", "x")]), mode: .aggregate, value: .nativeHistogram(h, classic: nil))
                ])
            do {
                same(try parse(write([family])).families, [family])
            } catch {
                Issue.record("refused: \(error)")
            }
        }
    }

    @Test("The Pushgateway's instance=\"\" goes on every series without an instance")
    func emptyInstance() {
        let families = [
            ParsedFamily(
                name: "g", type: .gauge,
                series: [
                    ParsedSeries(key: LabelKey(labels: [("job", "a")]), mode: .replace, value: .scalar(1)),
                    ParsedSeries(key: LabelKey(labels: [("instance", "i1"), ("job", "b")]), mode: .replace, value: .scalar(2)),
                ])
        ]
        // Readers drop empty labels, so look for the label pair itself: {name: "instance", value: ""}.
        let pair: [UInt8] = [0x0A, 12, 0x0A, 8] + Array("instance".utf8) + [0x12, 0]
        func count(_ bytes: [UInt8]) -> Int {
            guard bytes.count >= pair.count else { return 0 }
            return (0...(bytes.count - pair.count)).filter { Array(bytes[$0..<$0 + pair.count]) == pair }.count
        }
        #expect(count(write(families, emptyInstance: true)) == 1)
        #expect(count(write(families)) == 0)
    }
}
