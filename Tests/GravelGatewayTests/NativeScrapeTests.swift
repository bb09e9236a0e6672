import Synchronization
import Testing

@testable import GravelGateway
@testable import Shared

@Suite("Native histograms through the gateway's store and scrape")
struct NativeScrapeTests {
    static let grouping = GroupingKey(labels: [("job", "native")])

    static func native(_ values: [Double], schema: Int32) -> NativeHistogram {
        var h = NativeHistogram(schema: schema, zeroThreshold: 0x1p-128)
        for v in values { h.observe(v) }
        return h
    }

    /// The classic buckets a client with bounds 1 and +Inf writes for the same observations.
    static func classic(_ values: [Double]) -> HistogramValue {
        HistogramValue(
            buckets: [
                Bucket(upperBound: 1, count: Double(values.count(where: { $0 <= 1 }))),
                Bucket(upperBound: .infinity, count: Double(values.count)),
            ],
            sum: values.reduce(0, +))
    }

    /// A push as the protobuf reader produces it: one native-only and one native+classic histogram.
    static func push(_ store: MetricStore, _ values: [Double], schema: Int32) throws {
        let a = native(values, schema: schema)
        let key = grouping.key
        let parsed = ParsedPush(families: [
            ParsedFamily(
                name: "only_native_seconds", type: .histogram,
                series: [
                    ParsedSeries(key: key, mode: .aggregate, value: .nativeHistogram(a, classic: nil))
                ]),
            ParsedFamily(
                name: "both_seconds", type: .histogram,
                series: [
                    ParsedSeries(key: key, mode: .aggregate, value: .nativeHistogram(a, classic: classic(values)))
                ]),
            ParsedFamily(name: "done_total", type: .counter, series: [ParsedSeries(key: key, mode: .aggregate, value: .scalar(1))]),
        ])
        try store.push(parsed, to: grouping, method: .post, now: 1000)
    }

    @Test("Text scrapes leave native-only families out and show classic buckets; protobuf has everything")
    func scrape() throws {
        let store = MetricStore()
        let first = [0.5, 2.5, 0], second = [0.75, 100]
        try Self.push(store, first, schema: 3)
        try Self.push(store, second, schema: 1)
        #expect(store.snapshot().holdsNativeHistograms)

        var text = ExpositionWriter(format: .text)
        store.snapshot().render(into: &text, now: 1000)
        let rendered = String(decoding: text.bytes, as: UTF8.self)
        #expect(!rendered.contains("only_native_seconds"))
        #expect(rendered.contains("both_seconds_bucket{job=\"native\",le=\"1\"} 3\n"))
        #expect(rendered.contains("both_seconds_count{job=\"native\"} 5\n"))

        var protobuf = ProtobufWriter()
        store.snapshot().render(into: &protobuf, now: 1000)
        protobuf.finish()
        let back = try protobuf.bytes.withUnsafeBytes { raw in
            try Result { () throws(ExpositionError) in try ProtobufExposition.parse(raw) }.get()
        }
        let merged = Self.native(first, schema: 3).merged(with: Self.native(second, schema: 1))
        #expect(merged.schema == 1)
        #expect(
            back.families.map(\.name) == [
                "both_seconds", "done_total", "only_native_seconds", "push_time_seconds", "push_failure_time_seconds",
            ])
        #expect(back.families.first { $0.name == "only_native_seconds" }?.series.map(\.value) == [.nativeHistogram(merged, classic: nil)])
        #expect(
            back.families.first { $0.name == "both_seconds" }?.series.map(\.value)
                == [.nativeHistogram(merged, classic: Self.classic(first + second))])
        #expect(back.families.first { $0.name == "done_total" }?.series.map(\.value) == [.scalar(2)])
    }

    @Test("A store without native histograms says so, so scrapes stay text")
    func noNative() throws {
        let store = MetricStore()
        let parsed = try ExpositionParser.parse("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n", grouping: Self.grouping)
        try store.push(parsed, to: Self.grouping, method: .post, now: 1000)
        #expect(!store.snapshot().holdsNativeHistograms)
    }

    @Test("The gateway's own metrics are the same families and series in protobuf as in text")
    func ownMetricsInProtobuf() throws {
        let metrics = GatewayMetrics(version: "1.2.3", wal: WALMetrics())
        metrics.scrapes.add(7, ordering: .relaxed)
        metrics.requests.record(handler: .scrape, method: .get, code: 200, seconds: 0.01, requestBytes: nil, responseBytes: 10)
        var text = ExpositionWriter(format: .text)
        metrics.render(into: &text, series: 3, groups: 2, staleObservations: 0)
        var proto = ProtobufWriter()
        metrics.render(into: &proto, series: 3, groups: 2, staleObservations: 0)
        proto.finish()
        let fromText = try ExpositionParser.parse(text.bytes)
        let fromProto = try proto.takeBytes().withUnsafeBytes { try ProtobufExposition.parse($0) }
        func shape(_ push: ParsedPush) -> [String] {
            push.families.filter { !$0.name.hasPrefix("process_") }.map { family in
                "\(family.name) \(family.type) \(family.series.map(\.key.description))"
            }
        }
        #expect(shape(fromProto) == shape(fromText))
        #expect(shape(fromText).count > 10)
        let scrapes = fromProto.families.first { $0.name == "gravel_gateway_scrapes_total" }?.series.first?.value
        #expect(scrapes == .scalar(7))
    }

    @Test("Protobuf is chosen when Accept weighs it at least as high as the text formats")
    func negotiation() {
        let prometheus =
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,"
            + "application/openmetrics-text;version=1.0.0;q=0.8,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
        #expect(GatewayResponder.prefersProtobuf(prometheus, openMetrics: false))
        #expect(GatewayResponder.prefersProtobuf(prometheus, openMetrics: true))
        // Prometheus without the feature flag does not ask for protobuf at all.
        #expect(
            !GatewayResponder.prefersProtobuf(
                "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1", openMetrics: false))
        #expect(
            !GatewayResponder.prefersProtobuf(
                "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.4,text/plain;q=0.5",
                openMetrics: false))
        #expect(
            !GatewayResponder.prefersProtobuf(
                "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text", openMetrics: false))
        #expect(
            !GatewayResponder.prefersProtobuf(
                "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0", openMetrics: false))
        #expect(!GatewayResponder.prefersProtobuf(nil, openMetrics: false))
    }
}
