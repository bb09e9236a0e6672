import Shared
import Testing

@testable import GravelExtension

@Suite("Batch store: validation, limits, retries")
struct BatchStoreTests {
    let job = GroupingKey(labels: [("job", "fn")])
    let other = GroupingKey(labels: [("job", "other")])

    func store(maxSeries: Int = 1000, cumulative: Bool = false) -> BatchStore {
        BatchStore(
            maxSeries: maxSeries, cumulative: cumulative, ownGrouping: GroupingKey(labels: [("job", "fn"), ("function_name", "fn")]))
    }

    func push(_ store: BatchStore, _ body: String, _ grouping: GroupingKey, _ method: PushMethod = .post) throws(PushFailure) {
        let parsed: ParsedPush
        do { parsed = try ExpositionParser.parse(body, grouping: grouping) } catch { throw PushFailure(.badBody, "\(error)") }
        try store.push(parsed, to: grouping, method: method, arrivalMs: 1000)
    }

    func rendered(_ store: BatchStore) -> String {
        var gateway = ModelGateway()
        try? gateway.flush(store.pendingSnapshot, nowMs: 1000)
        return gateway.render(nowMs: 1000)
    }

    @Test("A type conflict with the batch is a 400 and changes nothing")
    func typeConflict() throws {
        let s = store()
        try push(s, "# TYPE x counter\nx 1\n", job)
        let before = rendered(s)
        #expect(throws: PushFailure.self) { try push(s, "# TYPE x gauge\nx 2\n", other) }
        #expect(throws: PushFailure.self) { try push(s, "# TYPE x gauge\nx 2\n", job) }
        #expect(rendered(s) == before)
        // A PUT replaces the group, so its own families do not conflict.
        try push(s, "# TYPE x gauge\nx 2\n", job, .put)
    }

    @Test("Two groups cannot expose the same series")
    func ownership() throws {
        let s = store()
        try push(s, "x{instance=\"a\"} 1\n", job)
        #expect(throws: PushFailure.self) {
            try push(s, "x 1\n", GroupingKey(labels: [("job", "fn"), ("instance", "a")]))
        }
    }

    @Test("Reserved gateway names are refused")
    func reserved() {
        let s = store()
        #expect(throws: PushFailure.self) { try push(s, "push_time_seconds 1\n", job) }
        #expect(throws: PushFailure.self) { try push(s, "gravel_gateway_series 1\n", job) }
    }

    @Test("GRAVEL_MAX_SERIES never refuses a push: the oldest groups are dropped and counted")
    func maxSeries() throws {
        let s = store(maxSeries: 2)
        let first = GroupingKey(labels: [("job", "first")])
        let second = GroupingKey(labels: [("job", "second")])
        try push(s, "a 1\nb 1\n", first)
        try push(s, "a 5\n", first)  // no new series: nothing dropped
        #expect(s.droppedTotal.isEmpty)
        try push(s, "c 1\n", second)  // 3 entries > 2: the oldest group (first, 2 series) goes
        #expect(s.droppedTotal["buffer_full"] == 2)
        #expect(s.pendingSnapshot.groups[first.key] == nil)
        #expect(s.pendingSnapshot.groups[second.key]?.state.families["c"] != nil)
        try push(s, "d 1\ne 1\nf 1\n", second)  // the newest push alone passes the bound: it goes too
        #expect(s.droppedTotal["buffer_full"] == 6)
        #expect(s.pendingEntries == 0)
    }

    @Test("A failed batch is sent again unchanged, with its key, before newer pushes")
    func retrySameKey() throws {
        let s = store()
        try push(s, "# TYPE c counter\nc 1\n# TYPE g gauge\ng 1\n", job)
        let taken = try #require(s.take(nowMs: 1000))
        let key = try #require(taken.idempotencyKey)
        #expect(key.count == 32)
        #expect(s.take(nowMs: 1000) == nil)  // one flush at a time
        try push(s, "# TYPE c counter\nc 2\n# TYPE g gauge\ng 5\n", job)
        s.finish(returning: taken)
        #expect(s.hasPendingData)
        let again = try #require(s.take(nowMs: 1000))
        #expect(again.idempotencyKey == key)
        let state = again.groups[job.key]!.state
        #expect(state.families["c"]?.series.values.first?.value == .scalar(1))
        #expect(state.families["g"]?.series.values.first?.value == .scalar(1))
        s.finish(returning: Batch())
        let newer = try #require(s.take(nowMs: 1000))
        #expect(newer.idempotencyKey != key)
        #expect(newer.groups[job.key]!.state.families["c"]?.series.values.first?.value == .scalar(2))
    }

    @Test("Pushes are validated against the batch in flight too")
    func inflightValidation() throws {
        let s = store()
        try push(s, "# TYPE x counter\nx 1\n", job)
        _ = s.take(nowMs: 1000)
        #expect(throws: PushFailure.self) { try push(s, "# TYPE x gauge\nx 2\n", other) }
    }

    @Test("Drops are reported through the extension's own group at the next flush")
    func dropsReported() throws {
        let s = store()
        s.recordDrop(reason: "rejected", count: 3)
        let batch = try #require(s.take(nowMs: 1000))
        let body = String(decoding: batch.groups.values.first!.request().body, as: UTF8.self)
        #expect(
            body.contains("gravel_extension_dropped_total{function_name=\"fn\",job=\"fn\",reason=\"rejected\",clearmode=\"aggregate\"} 3"))
    }

    @Test("Once registration tells the account id, drops go to the platform metrics' new group")
    func dropsFollowTheGrouping() throws {
        let s = store()
        let withAccount = GroupingKey(labels: [("job", "fn"), ("function_name", "fn"), ("account_id", "123")])
        s.setOwnGrouping(withAccount)
        s.recordDrop(reason: "rejected", count: 1)
        let batch = try #require(s.take(nowMs: 1000))
        #expect(Array(batch.groups.keys) == [withAccount.key])
    }

    @Test("Cumulative mode: totals become deltas, and a PUT merges")
    func cumulative() throws {
        let s = store(cumulative: true)
        try push(s, "# TYPE c counter\nc 5\n", job, .put)
        #expect(s.take(nowMs: 1000) != nil)
        s.finish(returning: Batch())  // delivered
        try push(s, "# TYPE c counter\nc 7\n", job, .put)
        let group = s.pendingSnapshot.groups[job.key]!
        #expect(group.operation == .merge)
        #expect(group.state.families["c"]?.series.values.first?.value == .scalar(2))
    }
}
