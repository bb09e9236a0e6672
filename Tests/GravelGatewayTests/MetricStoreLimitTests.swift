@testable import GravelGateway
import Shared
import Testing

@Suite("Gateway store: groups and names a scrape depends on")
struct MetricStoreLimitTests {
    func push(_ store: MetricStore, _ body: String, job: String) throws {
        let grouping = GroupingKey(labels: [("job", job)])
        try store.push(try ExpositionParser.parse(body, grouping: grouping), to: grouping, method: .post, now: 1000)
    }

    func scrape(_ store: MetricStore, _ format: ExpositionFormat = .text) -> String {
        var writer = ExpositionWriter(format: format)
        store.snapshot().render(into: &writer, now: 1000)
        writer.finish()
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    @Test("--max-groups: empty pushes make groups too; pushes to existing groups still pass")
    func maxGroups() throws {
        let store = MetricStore(maxGroups: 2)
        try push(store, "", job: "a")
        try push(store, "m 1\n", job: "b")
        let before = scrape(store)
        do {
            try push(store, "", job: "c")
            Issue.record("a third group was accepted")
        } catch let error as PushError {
            #expect(error.kind == .tooManyGroups)
            #expect(error.message.contains("--max-groups"))
        }
        #expect(scrape(store) == before)
        try push(store, "m 2\n", job: "a")
        #expect(store.groupCount == 2)
        store.delete(GroupingKey(labels: [("job", "b")]))
        try push(store, "", job: "c")
    }

    @Test("Every name a family writes is checked against the gateway's own", arguments: [
        "# TYPE push_time_seconds_total counter\npush_time_seconds_total 1\n",
        "# TYPE push_time_seconds histogram\npush_time_seconds_bucket{le=\"+Inf\"} 1\npush_time_seconds_count 1\n",
        "# TYPE push_time summary\npush_time_seconds{quantile=\"0.5\"} 1\n",
        "gravel_gateway_series 1\n",
    ])
    func reservedNames(body: String) throws {
        let store = MetricStore()
        let parsed = try ExpositionParser.parse(body)
        #expect(throws: PushError.self) { try store.push(parsed, to: GroupingKey(labels: [("job", "a")]), method: .post, now: 1000) }
    }

    @Test("An OpenMetrics scrape declares each name once, across groups too")
    func openMetricsDeclaresOnce() throws {
        let store = MetricStore()
        try push(store, "# TYPE go_alloc_bytes gauge\ngo_alloc_bytes 1\n", job: "a")
        try push(store, "# TYPE go_alloc_bytes_total counter\ngo_alloc_bytes_total 5\n", job: "b")
        let text = scrape(store, .openMetrics)
        let declared = text.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }.map { $0.split(separator: " ")[2] }
        #expect(Set(declared).count == declared.count, "\(text)")
        #expect(text.contains("# TYPE go_alloc_bytes_total unknown\ngo_alloc_bytes_total{job=\"b\"} 5\n"))
    }
}
