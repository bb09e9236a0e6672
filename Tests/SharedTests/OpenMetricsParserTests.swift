import Shared
import Testing

@Suite("OpenMetrics 1.0 parser")
struct OpenMetricsParserTests {
    let body = """
        # TYPE acme_http_router_request_seconds summary
        # UNIT acme_http_router_request_seconds seconds
        # HELP acme_http_router_request_seconds Latency though all of ACME's HTTP request router.
        acme_http_router_request_seconds_sum{path="/api/v1",method="GET"} 9036.32
        acme_http_router_request_seconds_count{path="/api/v1",method="GET"} 807283.0
        acme_http_router_request_seconds_created{path="/api/v1",method="GET"} 1605281325.0
        # TYPE go_goroutines gauge
        go_goroutines 69
        # TYPE process_cpu_seconds counter
        # UNIT process_cpu_seconds seconds
        # HELP process_cpu_seconds Total user and system CPU time spent in seconds.
        process_cpu_seconds_total 4.20072246e+06 # {trace_id="KOO5S4vxi0o"} 0.67
        process_cpu_seconds_created 1.6e9
        # TYPE build info
        build_info{version="1.2.3"} 1
        # TYPE door stateset
        door{door="open"} 1
        door{door="closed"} 0
        # TYPE rpc histogram
        rpc_bucket{le="1.1e-4"} 0 # {trace_id="x"} 0.0001 123.4
        rpc_bucket{le="+inf"} 3
        rpc_sum 2.5
        rpc_count 3
        rpc_created 1.6e9
        # TYPE queue gaugehistogram
        queue_bucket{le="1"} 2
        queue_bucket{le="+Inf"} 5
        queue_gsum 7
        queue_gcount 5
        # TYPE weird unknown
        weird 1
        # EOF

        """

    @Test("Every type maps into the model")
    func types() throws {
        let push = try ExpositionParser.parse(body, format: .openMetrics)
        #expect(
            push.families.map(\.name) == [
                "acme_http_router_request_seconds", "go_goroutines", "process_cpu_seconds_total", "build_info", "door", "rpc", "queue",
                "weird",
            ])
        #expect(push.families.map(\.type) == [.summary, .gauge, .counter, .gauge, .gauge, .histogram, .gaugeHistogram, .untyped])
        let counter = try #require(push.family("process_cpu_seconds_total"))
        #expect(counter.series.count == 1)  // _created is dropped
        #expect(counter.series[0].value == .scalar(4.20072246e+06))
        #expect(counter.help == "Total user and system CPU time spent in seconds.")
        guard case .histogram(let h) = push.family("rpc")?.series[0].value else {
            Issue.record("not a histogram")
            return
        }
        #expect(h.buckets.map(\.upperBound) == [1.1e-4, .infinity])
        guard case .histogram(let g) = push.family("queue")?.series[0].value else {
            Issue.record("not a histogram")
            return
        }
        #expect(g.sum == 7)
        #expect(g.count == 5)
    }

    @Test("Format detection by Content-Type and by # EOF")
    func detection() {
        let om = Array("a 1\n# EOF\n".utf8)
        let text = Array("a 1\n".utf8)
        om.withUnsafeBytes { #expect(ExpositionFormat.detect(contentType: nil, body: $0) == .openMetrics) }
        text.withUnsafeBytes { #expect(ExpositionFormat.detect(contentType: "text/plain; version=0.0.4", body: $0) == .text) }
        text.withUnsafeBytes {
            #expect(ExpositionFormat.detect(contentType: "application/openmetrics-text; version=1.0.0", body: $0) == .openMetrics)
        }
    }

    @Test("Content after # EOF is refused")
    func afterEOF() {
        #expect(parseError("a 1\n# EOF\nb 2\n", format: .openMetrics) != nil)
    }

    @Test("Two spellings of one le are the same bucket")
    func leSpellings() throws {
        let push = try ExpositionParser.parse(
            """
            # TYPE h histogram
            h_bucket{le="1"} 1
            h_bucket{le="+Inf"} 1
            h_count 1
            # EOF
            """, format: .openMetrics)
        var group = GroupState()
        group.apply(push.families[0], nowMs: 0)
        let again = try ExpositionParser.parse(
            "# TYPE h histogram\nh_bucket{le=\"1.0\"} 2\nh_bucket{le=\"+Inf\"} 2\nh_count 2\n# EOF\n", format: .openMetrics)
        group.apply(again.families[0], nowMs: 0)
        guard case .histogram(let h) = group.families["h"]?.series[.empty]?.value else {
            Issue.record("missing")
            return
        }
        #expect(h.buckets == [Bucket(upperBound: 1, count: 3), Bucket(upperBound: .infinity, count: 3)])
    }
}
