import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Shared
import Synchronization
import Testing

@testable import GravelExtension

/// The flusher's libcurl client against a fake gateway on loopback.
@Suite("Gateway client over libcurl", .serialized)
struct GatewayClientTests {
    final class Recorder: Sendable {
        let requests = Mutex<[LocalRequest]>([])
        let status = Mutex<HTTPResponseStatus>(.ok)
    }

    final class FakeGateway: Sendable {
        let recorder = Recorder()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let channel: any Channel

        init() throws {
            let recorder = self.recorder
            channel = try HTTPServer.bind(host: "127.0.0.1", port: 0, group: group, maxBodyBytes: 1 << 20) { request in
                recorder.requests.withLock { $0.append(request) }
                let s = recorder.status.withLock { $0 }
                return LocalResponse(status: s, body: s == .ok ? "" : "line 1: nope\n")
            }
        }

        var url: String { "http://127.0.0.1:\(channel.localAddress!.port!)" }

        func shutdown() throws {
            try channel.close().wait()
            try group.syncShutdownGracefully()
        }
    }

    static let initOnce: Void = CurlEasy.globalInit()

    func client(_ url: String, password: String? = nil) throws -> GatewayClient {
        _ = Self.initOnce
        var env = ["AWS_LAMBDA_RUNTIME_API": "127.0.0.1:1", "GRAVEL_GATEWAY_URL": url, "GRAVEL_JOB": "fn"]
        if let password { env["GRAVEL_GATEWAY_PASSWORD"] = password }
        return GatewayClient(config: try Config(environment: env), logger: Logger(label: "test"))
    }

    func batch() throws -> Batch {
        var b = Batch()
        try b.add(Push(method: .post, grouping: GroupingKey(labels: [("job", "fn")]), body: "c_total 1\n"), nowMs: 0)
        try b.add(Push(method: .delete, grouping: GroupingKey(labels: [("job", "gone")]), body: ""), nowMs: 0)
        return b
    }

    @Test("Groups go out gzipped with Basic auth, DELETEs first")
    func delivered() throws {
        let gateway = try FakeGateway()
        defer { try? gateway.shutdown() }
        let outcome = try client(gateway.url, password: "s3cret").send(try batch(), deadline: .now + .seconds(5))
        #expect(outcome.success && outcome.delivered == 2)
        let seen = gateway.recorder.requests.withLock { $0 }
        #expect(seen.map(\.method) == [.DELETE, .POST])
        #expect(seen.map(\.uri) == ["/metrics/job/gone", "/metrics/job/fn"])
        #expect(seen[1].headers.first(name: "Content-Encoding") == "gzip")
        // base64("gravel:s3cret")
        #expect(seen[1].headers.first(name: "Authorization") == "Basic Z3JhdmVsOnMzY3JldA==")
        let body = try Gzip.decompress(seen[1].body, limit: 1 << 20)
        #expect(String(buffer: body) == "# TYPE c_total untyped\nc_total{job=\"fn\",clearmode=\"aggregate\"} 1\n")
    }

    @Test("4xx drops the group, 5xx keeps it")
    func statuses() throws {
        let gateway = try FakeGateway()
        defer { try? gateway.shutdown() }
        let c = try client(gateway.url)
        gateway.recorder.status.withLock { $0 = .badRequest }
        let refused = c.send(try batch(), deadline: .now + .seconds(5))
        #expect(refused.success && refused.refused == 2)
        gateway.recorder.status.withLock { $0 = .serviceUnavailable }
        let kept = c.send(try batch(), deadline: .now + .seconds(5))
        #expect(!kept.success && kept.retry.groups.count == 2)
    }

    @Test("An unreachable gateway keeps everything and returns at once")
    func unreachable() throws {
        let gateway = try FakeGateway()
        let url = gateway.url
        try gateway.shutdown()
        let start = ContinuousClock.now
        let outcome = try client(url).send(try batch(), deadline: start + .seconds(5))
        #expect(!outcome.success && outcome.retry.groups.count == 2)
        #expect(ContinuousClock.now - start < .seconds(1))
    }
}
