import Shared
import Testing

@testable import GravelGateway

@Suite("Gateway store: each name declared once in a scrape")
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
