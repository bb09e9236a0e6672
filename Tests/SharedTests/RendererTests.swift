import Shared
import Testing

@Suite("Exposition renderer")
struct RendererTests {
    let body = """
        # HELP rpc_seconds RPC latency with a \\ backslash and "quotes".
        # TYPE rpc_seconds histogram
        rpc_seconds_bucket{svc="b",le="0.1"} 1
        rpc_seconds_bucket{svc="b",le="+Inf"} 2
        rpc_seconds_sum{svc="b"} 0.35
        rpc_seconds_count{svc="b"} 2
        rpc_seconds_bucket{svc="a",le="0.1"} 0
        rpc_seconds_bucket{svc="a",le="+Inf"} 1
        rpc_seconds_sum{svc="a"} 1.5
        rpc_seconds_count{svc="a"} 1
        # TYPE requests_total counter
        requests_total{path="/a\\"b"} 7
        # TYPE lat summary
        lat{quantile="0.99"} 0.2
        lat_sum 3
        lat_count 9
        # TYPE temp gauge
        temp NaN
        untyped_thing{clearmode="replace"} -Inf

        """

    @Test("Text 0.0.4 golden output: sorted families and series, canonical numbers")
    func textGolden() throws {
        let group = try pushAll([body])
        #expect(
            render(group) == #"""
                # TYPE lat summary
                lat{quantile="0.99"} 0.2
                lat_sum 3
                lat_count 9
                # TYPE requests_total counter
                requests_total{path="/a\"b"} 7
                # HELP rpc_seconds RPC latency with a \\ backslash and "quotes".
                # TYPE rpc_seconds histogram
                rpc_seconds_bucket{svc="a",le="0.1"} 0
                rpc_seconds_bucket{svc="a",le="+Inf"} 1
                rpc_seconds_sum{svc="a"} 1.5
                rpc_seconds_count{svc="a"} 1
                rpc_seconds_bucket{svc="b",le="0.1"} 1
                rpc_seconds_bucket{svc="b",le="+Inf"} 2
                rpc_seconds_sum{svc="b"} 0.35
                rpc_seconds_count{svc="b"} 2
                # TYPE temp gauge
                temp NaN
                # TYPE untyped_thing untyped
                untyped_thing -Inf

                """#)
    }

    @Test("OpenMetrics golden output: counter names, unknown type, escaped quotes in HELP, # EOF")
    func openMetricsGolden() throws {
        let group = try pushAll([body])
        let text = render(group, format: .openMetrics)
        #expect(text.contains("# TYPE requests counter\nrequests_total{path=\"/a\\\"b\"} 7\n"))
        #expect(text.contains(#"# HELP rpc_seconds RPC latency with a \\ backslash and \"quotes\"."#))
        #expect(text.contains("# TYPE untyped_thing unknown\n"))
        #expect(text.hasSuffix("# EOF\n"))
    }

    @Test("Round trip: parse, render, parse gives the same model", arguments: [ExpositionFormat.text, .openMetrics])
    func roundTrip(format: ExpositionFormat) throws {
        // Read back as a scrape: the rendered text carries no clearmode.
        let first = try pushAll([body])
        let push = try ExpositionParser.parseScrape(Array(render(first, format: format).utf8), format: format)
        var second = GroupState()
        for family in push.families { second.apply(family, nowMs: 1_000_000) }
        #expect(render(second) == render(first))
    }

    @Test(
        "Numbers render as integers when integral, else shortest round-trip form",
        arguments: [
            (1.0, "1"), (-3.0, "-3"), (0.1, "0.1"), (1e20, "1e+20"), (9.4094392e12, "9409439200000"),
            (1.5e-7, "1.5e-07"), (Double.infinity, "+Inf"), (-Double.infinity, "-Inf"), (123456.789, "123456.789"),
        ])
    func numbers(value: Double, expected: String) {
        var out: [UInt8] = []
        NumberFormatting.appendDouble(value, to: &out)
        #expect(String(decoding: out, as: UTF8.self) == expected)
    }
}
