import PropertyBased
import Shared
import Testing

@testable import GravelExtension

/// docs/SEMANTICS.md S51 (exactness): what the gateway holds after a flush equals what it would
/// hold had every push gone straight to it.
@Suite("Batch exactness")
struct BatchExactnessTests {
    static let now: Int64 = 1_000_000
    static let pushSeeds = Gen.int(in: 0...599).array(of: 2...8)

    /// Random pushes split into batches flushed in order, as a failed batch is sent again
    /// unchanged before the batch of the pushes that arrived while it was out.
    struct ReplayCase: Sendable, CustomTestStringConvertible {
        let testDescription: String
        let batches: Int
        let pushesPerBatch: ClosedRange<Int>
    }

    @Test(
        "Random push sequences replay exactly",
        arguments: [
            ReplayCase(testDescription: "through one batch", batches: 1, pushesPerBatch: 1...8),
            ReplayCase(testDescription: "through a failed batch, then the newer one", batches: 2, pushesPerBatch: 0...6),
        ])
    func replay(_ replayCase: ReplayCase) async {
        let input = Self.pushSeeds.array(of: replayCase.pushesPerBatch).array(of: replayCase.batches)
        await propertyCheck(count: 300, input: input) { seeds in
            let batches = seeds.map { $0.map(Pushes.make) }
            do {
                var direct = ModelGateway()
                var viaBatch = ModelGateway()
                for push in Pushes.start {
                    try direct.push(push.method, push.grouping, push.body, nowMs: Self.now)
                    try viaBatch.push(push.method, push.grouping, push.body, nowMs: Self.now)
                }
                for pushes in batches {
                    var batch = Batch()
                    for push in pushes {
                        try direct.push(push.method, push.grouping, push.body, nowMs: Self.now)
                        try batch.add(push, nowMs: Self.now)
                    }
                    try viaBatch.flush(batch, nowMs: Self.now)
                }
                #expect(direct.render(nowMs: Self.now) == viaBatch.render(nowMs: Self.now), "batches, oldest first:\n\(batches)")
            } catch {
                Issue.record("a generated push was refused: \(error)")
            }
        }
    }

    /// Pushes to one group and the request its flush sends.
    struct RequestCase: Sendable, CustomTestStringConvertible {
        let testDescription: String
        let pushes: [(method: PushMethod, body: String, nowMs: Int64)]
        let method: PushMethod
        let body: String
        let entryCount: Int
    }

    @Test(
        "A group's pushes become one request",
        arguments: [
            RequestCase(
                testDescription: "a DELETE after a POST stays a group DELETE",
                pushes: [(.post, "c_total 1\n", now), (.delete, "", now)],
                method: .delete, body: "", entryCount: 0),
            RequestCase(
                testDescription: "a POST after a DELETE becomes a PUT of what was pushed since",
                pushes: [(.post, "c_total 1\n", now), (.delete, "", now), (.post, "c_total 2\n", now)],
                method: .put, body: "# TYPE c_total untyped\nc_total{job=\"fn\",clearmode=\"aggregate\"} 2\n", entryCount: 1),
            RequestCase(
                testDescription: "pebble observations replay as repeated lines with their timestamps",
                pushes: [
                    (.post, "# TYPE p gauge\np{clearmode=\"max5m\"} 3\n", 1000),
                    (.post, "# TYPE p gauge\np{clearmode=\"max5m\"} 1 1500\n", 2000),
                ],
                method: .post, body: "# TYPE p gauge\np{job=\"fn\",clearmode=\"max5m\"} 3 1000\np{job=\"fn\",clearmode=\"max5m\"} 1 1500\n",
                entryCount: 2),
        ])
    func request(_ requestCase: RequestCase) throws {
        let g = Pushes.groupings[0]
        var batch = Batch()
        for push in requestCase.pushes {
            try batch.add(Push(method: push.method, grouping: g, body: push.body), nowMs: push.nowMs)
        }
        let request = try #require(batch.groups[g.key]).request()
        #expect(request.method == requestCase.method)
        #expect(String(decoding: request.body, as: UTF8.self) == requestCase.body)
        #expect(batch.entryCount == requestCase.entryCount)
    }

    @Test("Groups with PUT or DELETE flush first, in order")
    func flushOrder() throws {
        var batch = Batch()
        let (a, b, c) = (Pushes.groupings[0], Pushes.groupings[1], Pushes.groupings[2])
        try batch.add(Push(method: .post, grouping: a, body: "x 1\n"), nowMs: Self.now)
        try batch.add(Push(method: .delete, grouping: c, body: ""), nowMs: Self.now)
        try batch.add(Push(method: .put, grouping: b, body: "y 1\n"), nowMs: Self.now)
        #expect(batch.flushOrder() == [c.key, b.key, a.key])
    }
}

@Suite("Batch entry count")
struct BatchEntryCountTests {
    /// The count is kept incrementally; it must equal a full recount after any pushes.
    @Test("entryCount equals a recount of series and pebble observations")
    func incremental() async {
        let lines = [
            "c_total{a=\"x\"} 1", "c_total{a=\"y\"} 2", "g{clearmode=\"max1m\"} 3", "g{clearmode=\"max1m\",k=\"2\"} 4",
            "v{version=\"1\",clearmode=\"family\"} 1", "v{version=\"2\",clearmode=\"family\"} 1", "g{clearmode=\"sum\"} 5",
        ]
        await propertyCheck(count: 200, input: Gen.int(in: 0...6).array(of: 1...6).array(of: 1...5)) { pushes in
            var group = BatchGroup(grouping: GroupingKey(labels: [("job", "j")]), operation: .merge, sequence: 0)
            do {
                for push in pushes {
                    let body = "# TYPE c_total counter\n" + push.map { lines[$0] + "\n" }.joined()
                    group.merge(try ExpositionParser.parse(body).families, nowMs: 1_000_000)
                }
            } catch {
                Issue.record("refused: \(error)")
            }
            var recount = 0
            for family in group.state.families.values {
                for series in family.series.values {
                    if case .observations(let list) = series.value { recount += list.count } else { recount += 1 }
                }
            }
            #expect(group.entryCount == recount)
        }
    }
}
