import Logging
import NIOCore
import NIOHTTP1
import Shared
import Testing

@testable import GravelExtension

@Suite("Local push API")
struct PushServerTests {
    let store = BatchStore(maxSeries: 1000, cumulative: false, ownGrouping: GroupingKey(labels: [("job", "fn")]))
    var server: PushServer {
        PushServer(store: store, defaultJob: "fn", maxBodyBytes: 1 << 20, clock: .system, logger: Logger(label: "test"))
    }

    func request(_ method: HTTPMethod, _ uri: String, _ body: String = "", headers: HTTPHeaders = [:]) -> LocalResponse {
        server.respond(to: LocalRequest(method: method, uri: uri, headers: headers, body: ByteBuffer(string: body)))
    }

    @Test("Plain /metrics pushes to GRAVEL_JOB; path labels win")
    func grouping() {
        #expect(request(.POST, "/metrics", "x 1\n").status == .ok)
        #expect(request(.PUT, "/metrics/job/other/instance/a", "y{job=\"z\"} 1\n").status == .ok)
        let groups = store.pendingSnapshot.groups
        #expect(groups[GroupingKey(labels: [("job", "fn")]).key] != nil)
        let other = groups[GroupingKey(labels: [("job", "other"), ("instance", "a")]).key]
        #expect(other?.operation == .replace)
        #expect(other?.state.families["y"]?.series.keys.first == LabelKey(labels: [("instance", "a"), ("job", "other")]))
    }

    @Test("A bad push is a 400 with the reason and leaves the batch as it was")
    func badPush() {
        #expect(request(.POST, "/metrics", "# TYPE c counter\nc 1\n").status == .ok)
        let before = store.pendingEntries
        let bad = request(.POST, "/metrics", "# TYPE c counter\nc 1\nc{ -1\n")
        #expect(bad.status == .badRequest)
        #expect(bad.body.contains("line 3"))
        #expect(request(.POST, "/metrics/job", "c 1\n").status == .badRequest)
        #expect(request(.POST, "/metrics", "c{clearmode=\"sometimes\"} 1\n").status == .badRequest)
        #expect(request(.POST, "/metrics", "# TYPE c gauge\nc 1\n").status == .badRequest)
        #expect(store.pendingEntries == before)
        let c = store.pendingSnapshot.groups.values.first?.state.families["c"]?.series.values.first?.value
        #expect(c == .scalar(1))
    }

    @Test("gzip bodies, DELETE, health, unknown routes")
    func misc() {
        let gz = Gzip.compress(ByteBuffer(string: "x 2\n"))
        let response = server.respond(
            to: LocalRequest(method: .POST, uri: "/metrics/job/g", headers: ["Content-Encoding": "gzip"], body: gz))
        #expect(response.status == .ok)
        #expect(request(.DELETE, "/metrics/job/g").status == .accepted)  // as the gateway and the Pushgateway
        #expect(store.pendingSnapshot.groups[GroupingKey(labels: [("job", "g")]).key]?.operation == .delete)
        #expect(request(.GET, "/-/healthy").status == .ok)
        #expect(request(.GET, "/nope").status == .notFound)
        #expect(request(.GET, "/metrics").status == .methodNotAllowed)
    }
}
