import HTTPTypes
import Shared
import Testing

@testable import GravelGateway

@Suite("Request and process metrics")
struct RequestMetricsTests {
    func text(_ render: (inout ExpositionWriter) -> Void) -> String {
        var writer = ExpositionWriter(format: .text)
        render(&writer)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    @Test(
        "Requests map to the handler label by method and path",
        arguments: [
            ("POST", "/metrics/job/a", "push"), ("PUT", "/metrics", "push"), ("DELETE", "/metrics/job/a", "delete"),
            ("GET", "/metrics", "metrics"), ("GET", "/metrics/job/a", "push"), ("GET", "/", "page"),
            ("GET", "/api/v1/metrics", "api/v1/metrics"), ("PUT", "/api/v1/admin/wipe", "api/v1/admin/wipe"),
            ("GET", "/-/ready", "ready"), ("GET", "/favicon.ico", "other"),
        ])
    func handlers(method: String, path: String, expected: String) {
        #expect(RequestMetrics.Handler(method: .init(method)!, path: path).label == expected)
    }

    @Test("Requests count by code, handler and method; durations and sizes land in histograms")
    func counts() {
        let metrics = RequestMetrics()
        metrics.record(handler: .push, method: .post, code: 200, seconds: 0.000244140625, requestBytes: 100, responseBytes: 0)
        metrics.record(handler: .push, method: .post, code: 200, seconds: 0.001953125, requestBytes: 5000, responseBytes: 0)
        metrics.record(handler: .push, method: .put, code: 400, seconds: 0.5, requestBytes: nil, responseBytes: 40)
        metrics.record(handler: .other, method: .other, code: 999, seconds: 0, requestBytes: nil, responseBytes: nil)
        let out = text { metrics.render(into: &$0) }
        #expect(out.contains(#"gravel_gateway_http_requests_total{code="200",handler="push",method="post"} 2"#))
        #expect(out.contains(#"gravel_gateway_http_requests_total{code="400",handler="push",method="put"} 1"#))
        // A code outside 100...599 counts in the last slot rather than being lost.
        #expect(out.contains(#"gravel_gateway_http_requests_total{code="599",handler="other",method="other"} 1"#))
        #expect(out.contains(#"gravel_gateway_http_request_duration_seconds_bucket{handler="push",le="0.0001"} 0"#))
        #expect(out.contains(#"gravel_gateway_http_request_duration_seconds_bucket{handler="push",le="0.00025"} 1"#))
        #expect(out.contains(#"gravel_gateway_http_request_duration_seconds_bucket{handler="push",le="0.001"} 1"#))
        #expect(out.contains(#"gravel_gateway_http_request_duration_seconds_bucket{handler="push",le="0.0025"} 2"#))
        #expect(out.contains(#"gravel_gateway_http_request_duration_seconds_bucket{handler="push",le="+Inf"} 3"#))
        #expect(out.contains(#"gravel_gateway_http_request_duration_seconds_sum{handler="push"} 0.502197265625"#))
        #expect(out.contains(#"gravel_gateway_http_request_duration_seconds_count{handler="push"} 3"#))
        #expect(out.contains(#"gravel_gateway_http_request_size_bytes_count{handler="push"} 2"#))
        #expect(out.contains(#"gravel_gateway_http_request_size_bytes_sum{handler="push"} 5100"#))
        #expect(!out.contains(#"handler="page""#), "handlers without requests show nothing")
    }

    @Test("Concurrent recording loses no count")
    func concurrent() async {
        let metrics = RequestMetrics()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    for _ in 0..<10_000 {
                        metrics.record(handler: .push, method: .post, code: 200, seconds: 0.001, requestBytes: 10, responseBytes: nil)
                    }
                }
            }
        }
        #expect(metrics.requestCount(handler: .push, method: .post, code: 200) == 80_000)
        let out = text { metrics.render(into: &$0) }
        #expect(out.contains(#"gravel_gateway_http_request_duration_seconds_count{handler="push"} 80000"#))
        #expect(out.contains(#"gravel_gateway_http_request_size_bytes_sum{handler="push"} 800000"#))
    }

    @Test("/proc/self/stat parses even when the command holds spaces and parentheses")
    func procStat() {
        let stat = Array(
            "4242 (gravel (gw) x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 12 0 12345 104857600 2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
                .utf8)
        let system = Array("cpu  1 2 3\nbtime 1700000000\nprocesses 5\n".utf8)
        let metrics = ProcessMetrics.parse(stat: stat, systemStat: system, ticksPerSecond: 100, pageSize: 4096)
        #expect(
            metrics
                == ProcessMetrics(
                    cpuSeconds: 3, residentBytes: 2560 * 4096, virtualBytes: 104_857_600,
                    startTimeSeconds: 1_700_000_123.45, openFDs: 0, maxFDs: nil))
    }

    #if os(Linux)
    @Test("This process's metrics read from /proc are plausible")
    func current() throws {
        let metrics = try #require(ProcessMetrics.current())
        #expect(metrics.residentBytes > 1_000_000)
        #expect(metrics.openFDs >= 3)
        #expect(metrics.virtualBytes >= metrics.residentBytes)
        #expect(metrics.startTimeSeconds > 1_600_000_000)
        let out = text { metrics.render(into: &$0, skipping: { $0 == "process_open_fds" }) }
        #expect(out.contains("# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total "))
        #expect(out.contains("\nprocess_resident_memory_bytes "))
        #expect(!out.contains("process_open_fds"), "a pushed family of the same name wins")
    }
    #endif
}
