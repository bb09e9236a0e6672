import Shared
import Testing

@testable import GravelGateway

@Suite("Gateway store")
struct MetricStoreTests {
    func push(_ store: MetricStore, _ body: String, job: String, method: PushMethod = .post, extra: [(String, String)] = []) throws {
        let grouping = GroupingKey(labels: [("job", job)] + extra)
        let parsed = try ExpositionParser.parse(body, grouping: grouping)
        try store.push(parsed, to: grouping, method: method, now: 1000)
    }

    func scrape(_ store: MetricStore) -> String {
        var writer = ExpositionWriter(format: .text)
        store.snapshot().render(into: &writer, now: 1000)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    @Test("A type conflict across groups is refused and changes nothing")
    func typeConflict() throws {
        let store = MetricStore()
        try push(store, "# TYPE x counter\nx 1\n", job: "a")
        let before = scrape(store)
        #expect(throws: PushFailure.self) { try push(store, "# TYPE x gauge\nx 1\ny 2\n", job: "b") }
        #expect(scrape(store) == before)
    }

    @Test("A PUT may change the type of a family only this group holds")
    func typeChangeByPut() throws {
        let store = MetricStore()
        try push(store, "# TYPE x counter\nx 1\n", job: "a")
        try push(store, "# TYPE x gauge\nx 5\n", job: "a", method: .put)
        #expect(scrape(store).contains("# TYPE x gauge\nx{job=\"a\"} 5\n"))
    }

    @Test("Two groups exposing the same final series are refused")
    func duplicateSeries() throws {
        let store = MetricStore()
        try push(store, "m{instance=\"1\"} 1\n", job: "a")
        let before = scrape(store)
        #expect(throws: PushFailure.self) { try push(store, "m 1\n", job: "a", extra: [("instance", "1")]) }
        #expect(scrape(store) == before)
        #expect(store.seriesCount == 1)
    }

    @Test("PUT replaces the group, DELETE removes it, counts follow")
    func putAndDelete() throws {
        let store = MetricStore()
        try push(store, "a 1\nb 2\n", job: "j")
        try push(store, "c 3\n", job: "j", method: .put)
        #expect(store.seriesCount == 1)
        #expect(!scrape(store).contains("a{"))
        try store.delete(GroupingKey(labels: [("job", "j")]))
        #expect(store.seriesCount == 0)
        #expect(store.groupCount == 0)
        // The name is free again for another type once no group holds it.
        try push(store, "# TYPE c counter\nc 1\n", job: "k")
    }

    @Test("The series limit refuses a push whole")
    func seriesLimit() throws {
        let store = MetricStore(rules: PushRules(maxSeries: 3))
        try push(store, "a 1\nb 1\n", job: "j")
        let error = #expect(throws: PushFailure.self) { try push(store, "c 1\nd 1\n", job: "j") }
        #expect(error?.code == .tooManySeries)
        #expect(store.seriesCount == 2)
        try push(store, "a 5\nc 1\n", job: "j")  // one new series fits
        #expect(store.seriesCount == 3)
    }

    @Test("Family replacement frees the replaced series")
    func familyReplacement() throws {
        let store = MetricStore()
        try push(store, "version{version=\"1\",clearmode=\"family\"} 1\n", job: "j")
        try push(store, "version{version=\"2\",clearmode=\"family\"} 1\n", job: "j")
        #expect(store.seriesCount == 1)
        // The old series is no longer owned, so another group may now expose it.
        try push(store, "version{version=\"1\",job=\"j\"} 1\n", job: "other", extra: [])
    }

    @Test("Expiry drops groups not pushed since the cutoff")
    func expiry() throws {
        let store = MetricStore()
        try push(store, "a 1\n", job: "old")
        let grouping = GroupingKey(labels: [("job", "new")])
        try store.push(try ExpositionParser.parse("b 1\n", grouping: grouping), to: grouping, method: .post, now: 2000)
        #expect(store.expire(olderThan: 1500) == 1)
        #expect(store.groupCount == 1)
        #expect(store.seriesCount == 1)
    }
}

@Suite("Names shared between families")
struct ExposedNameTests {
    func push(_ store: MetricStore, _ body: String, job: String, method: PushMethod = .post) throws {
        let grouping = GroupingKey(labels: [("job", job)])
        try store.push(try ExpositionParser.parse(body, grouping: grouping), to: grouping, method: method, now: 1000)
    }

    @Test(
        "A family may not write a name another family writes",
        arguments: [
            ("# TYPE foo histogram\nfoo_bucket{le=\"+Inf\"} 1\nfoo_count 1\n", "foo_sum 1\n"),
            ("# TYPE foo histogram\nfoo_bucket{le=\"+Inf\"} 1\nfoo_count 1\n", "foo_bucket 3\n"),
            ("# TYPE foo counter\nfoo 1\n", "# TYPE foo_total counter\nfoo_total 1\n"),
            ("# TYPE s summary\ns_sum 1\ns_count 1\n", "# TYPE s_count gauge\ns_count 1\n"),
        ])
    func collisions(first: String, second: String) throws {
        let store = MetricStore()
        try push(store, first, job: "a")
        #expect(throws: PushFailure.self) { try push(store, second, job: "b") }
        #expect(throws: PushFailure.self) { try push(store, second, job: "a") }
    }

    @Test("Two families of one body that write the same name are refused")
    func oneBody() {
        #expect(throws: PushFailure.self) {
            try push(MetricStore(), "# TYPE foo counter\nfoo 1\n# TYPE foo_total counter\nfoo_total 1\n", job: "c")
        }
    }

    @Test("Names are freed when the last family holding them goes, and a PUT may change the type")
    func freed() throws {
        let store = MetricStore()
        try push(store, "# TYPE foo histogram\nfoo_bucket{le=\"+Inf\"} 1\nfoo_count 1\n", job: "a")
        try store.delete(GroupingKey(labels: [("job", "a")]))
        try push(store, "foo_sum 1\n", job: "b")
        try push(store, "# TYPE bar counter\nbar_total 1\n", job: "c")
        try push(store, "# TYPE bar_total gauge\nbar_total 2\n", job: "c", method: .put)
        try push(store, "bar 1\n", job: "d")  // `bar` was only claimed while bar_total was a counter.
    }
}
