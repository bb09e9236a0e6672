import Logging
import NIOCore
import NIOHTTP1
import Shared
import Testing

@testable import GravelExtension

@Suite("Local push API: the gateway's limits and rules")
struct PushServerLimitTests {
    let store = BatchStore(maxSeries: 1000, cumulative: false, ownGrouping: GroupingKey(labels: [("job", "fn")]))
    var server: PushServer {
        PushServer(store: store, defaultJob: "fn", maxBodyBytes: 1 << 20, clock: .system, logger: Logger(label: "test"))
    }

    func request(_ uri: String, _ body: String) -> LocalResponse {
        server.respond(to: LocalRequest(method: .POST, uri: uri, headers: [:], body: ByteBuffer(string: body)))
    }

    @Test("The default per-series limits apply, with a 422 that names the gateway flag")
    func defaults() {
        let limits = ParseLimits()
        let labels = (0...limits.maxLabelsPerSeries).map { "l\($0)=\"v\"" }.joined(separator: ",")
        let wide = request("/metrics", "m{\(labels)} 1\n")
        #expect(wide.status.code == 422)
        #expect(wide.body.contains("--max-labels-per-series"))
        let value = request("/metrics", "m{a=\"\(String(repeating: "v", count: limits.maxLabelValueBytes + 1))\"} 1\n")
        #expect(value.status.code == 422)
        #expect(store.pendingEntries == 0)
    }

    @Test(
        "Pushes that would poison the gateway's scrape are refused before they reach a batch",
        arguments: [
            "# TYPE h histogram\nh_count{le=\"x\"} 1\n",
            "# TYPE c counter\nc_total NaN\n",
            "m{a=\"x\ry\"} 1\n",
        ])
    func poison(body: String) {
        #expect(request("/metrics", body).status == .badRequest)
        #expect(store.pendingEntries == 0)
    }

    @Test("An empty path label is no label: the push goes to the group without it")
    func emptyPathLabel() {
        #expect(request("/metrics/job/v/aaa@base64/=", "x 1\n").status == .ok)
        #expect(store.pendingSnapshot.groups[GroupingKey(labels: [("job", "v")]).key] != nil)
    }
}
