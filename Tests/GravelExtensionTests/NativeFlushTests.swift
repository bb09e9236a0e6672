import Testing

@testable import GravelExtension
@testable import Shared

@Suite("Native histograms through the extension's batch")
struct NativeFlushTests {
    let job = GroupingKey(labels: [("job", "fn")])

    func native(_ values: [Double], schema: Int32) -> NativeHistogram {
        var h = NativeHistogram(schema: schema, zeroThreshold: 0x1p-128)
        for v in values { h.observe(v) }
        return h
    }

    func push(_ h: NativeHistogram, counter: Double) -> ParsedPush {
        ParsedPush(families: [
            ParsedFamily(
                name: "rpc_seconds", type: .histogram,
                series: [
                    ParsedSeries(key: job.key, mode: .aggregate, value: .nativeHistogram(h, classic: nil))
                ]),
            ParsedFamily(
                name: "done_total", type: .counter, series: [ParsedSeries(key: job.key, mode: .aggregate, value: .scalar(counter))]),
        ])
    }

    @Test("A batch with native histograms flushes as protobuf and the gateway ends where direct pushes end")
    func flushEqualsDirect() throws {
        let pushes = [push(native([0.5, 2.5, 0], schema: 3), counter: 1), push(native([0.75, 100, -3], schema: 1), counter: 2)]
        let store = BatchStore(maxSeries: 1000, cumulative: false, ownGrouping: GroupingKey(labels: [("job", "own")]))
        var direct = GroupState()
        for parsed in pushes {
            try store.push(parsed, to: job, method: .post, arrivalMs: 1000)
            for family in parsed.families { direct.apply(family, nowMs: 1000) }
        }
        let batch = store.pendingSnapshot
        let request = try #require(batch.groups[job.key]).request()
        #expect(request.contentType == ProtobufWriter().contentType)
        var gateway = ModelGateway()
        try gateway.flush(batch, nowMs: 1000)
        let flushed = try #require(gateway.groups[job.key])
        for name in ["rpc_seconds", "done_total"] {
            #expect(flushed.families[name]?.series.mapValues(\.value) == direct.families[name]?.series.mapValues(\.value), "\(name)")
        }
        #expect(
            flushed.families["rpc_seconds"]?.series[job.key]?.value
                == .nativeHistogram(native([0.5, 2.5, 0], schema: 3).merged(with: native([0.75, 100, -3], schema: 1)), classic: nil))
    }

    @Test("Batches without native histograms still flush as text")
    func textOtherwise() throws {
        let store = BatchStore(maxSeries: 1000, cumulative: false, ownGrouping: GroupingKey(labels: [("job", "own")]))
        try store.push(try ExpositionParser.parse("# TYPE c counter\nc 1\n", grouping: job), to: job, method: .post, arrivalMs: 1000)
        let request = try #require(store.pendingSnapshot.groups[job.key]).request()
        #expect(request.contentType.hasPrefix("text/plain; version=0.0.4"))
        #expect(String(decoding: request.body, as: UTF8.self).hasPrefix("# TYPE c counter\nc{"))
    }

    @Test("GRAVEL_CUMULATIVE: a native histogram's totals become what was observed since the previous push")
    func cumulative() {
        var converter = CumulativeConverter()
        func convert(_ h: NativeHistogram) -> SeriesValue? {
            var families = push(h, counter: 1).families
            converter.convert(&families, group: job.key)
            return families[0].series[0].value
        }
        let first = [0.5, 2.5, 0], second = [0.75, 100, -3]
        #expect(convert(native(first, schema: 3)) == .nativeHistogram(native(first, schema: 3), classic: nil))
        // The client lowered its resolution meanwhile: the increase is at the new schema.
        #expect(convert(native(first + second, schema: 1)) == .nativeHistogram(native(second, schema: 1), classic: nil))
        // A restart (fewer observations than before): the new totals are the increase.
        #expect(convert(native([7], schema: 1)) == .nativeHistogram(native([7], schema: 1), classic: nil))
    }
}
