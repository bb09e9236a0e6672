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

    @Test("Random push sequences through one batch replay exactly")
    func oneBatch() async {
        await propertyCheck(count: 300, input: Self.pushSeeds.array(of: 1...8)) { seeds in
            let pushes = seeds.map(Pushes.make)
            do {
                var direct = ModelGateway()
                var viaBatch = ModelGateway()
                for push in Pushes.start {
                    try direct.push(push.method, push.grouping, push.body, nowMs: Self.now)
                    try viaBatch.push(push.method, push.grouping, push.body, nowMs: Self.now)
                }
                var batch = Batch()
                for push in pushes {
                    try direct.push(push.method, push.grouping, push.body, nowMs: Self.now)
                    try batch.add(push, nowMs: Self.now)
                }
                try viaBatch.flush(batch, nowMs: Self.now)
                #expect(direct.render(nowMs: Self.now) == viaBatch.render(nowMs: Self.now), "pushes:\n\(pushes)")
            } catch {
                Issue.record("a generated push was refused: \(error)")
            }
        }
    }

    @Test("A failed batch with newer pushes appended replays exactly")
    func appendedBatches() async {
        await propertyCheck(count: 300, input: Self.pushSeeds.array(of: 0...6), Self.pushSeeds.array(of: 0...6)) { first, second in
            let older = first.map(Pushes.make), newer = second.map(Pushes.make)
            do {
                var direct = ModelGateway()
                var viaBatch = ModelGateway()
                for push in Pushes.start {
                    try direct.push(push.method, push.grouping, push.body, nowMs: Self.now)
                    try viaBatch.push(push.method, push.grouping, push.body, nowMs: Self.now)
                }
                var a = Batch(), b = Batch()
                for push in older {
                    try direct.push(push.method, push.grouping, push.body, nowMs: Self.now)
                    try a.add(push, nowMs: Self.now)
                }
                for push in newer {
                    try direct.push(push.method, push.grouping, push.body, nowMs: Self.now)
                    try b.add(push, nowMs: Self.now)
                }
                a.append(b, nowMs: Self.now)
                try viaBatch.flush(a, nowMs: Self.now)
                #expect(direct.render(nowMs: Self.now) == viaBatch.render(nowMs: Self.now), "older:\n\(older)\nnewer:\n\(newer)")
            } catch {
                Issue.record("a generated push was refused: \(error)")
            }
        }
    }

    @Test("PUT and DELETE stay group operations")
    func groupOperations() throws {
        let g = Pushes.groupings[0]
        var batch = Batch()
        try batch.add(Push(method: .post, grouping: g, body: "c_total 1\n"), nowMs: Self.now)
        try batch.add(Push(method: .delete, grouping: g, body: ""), nowMs: Self.now)
        #expect(batch.groups[g.key]?.request().method == .delete)
        try batch.add(Push(method: .post, grouping: g, body: "c_total 2\n"), nowMs: Self.now)
        let request = batch.groups[g.key]!.request()
        #expect(request.method == .put)
        #expect(String(decoding: request.body, as: UTF8.self) == "# TYPE c_total untyped\nc_total{job=\"fn\",clearmode=\"aggregate\"} 2\n")
    }

    @Test("Pebble observations replay as repeated lines with their timestamps")
    func pebbleLines() throws {
        let g = Pushes.groupings[0]
        var batch = Batch()
        try batch.add(Push(method: .post, grouping: g, body: "# TYPE p gauge\np{clearmode=\"max5m\"} 3\n"), nowMs: 1000)
        try batch.add(Push(method: .post, grouping: g, body: "# TYPE p gauge\np{clearmode=\"max5m\"} 1 1500\n"), nowMs: 2000)
        let body = String(decoding: batch.groups[g.key]!.request().body, as: UTF8.self)
        #expect(body == "# TYPE p gauge\np{job=\"fn\",clearmode=\"max5m\"} 3 1000\np{job=\"fn\",clearmode=\"max5m\"} 1 1500\n")
        #expect(batch.entryCount == 2)
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
