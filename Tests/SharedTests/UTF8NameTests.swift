import Shared
import Testing

@Suite("UTF-8 metric and label names (--push.enable-utf8-names)")
struct UTF8NameTests {
    static let utf8: ParseLimits = {
        var limits = ParseLimits()
        limits.utf8Names = true
        return limits
    }()

    static func parse(_ body: String, grouping: GroupingKey = .empty, format: ExpositionFormat = .text) throws -> ParsedPush {
        try ExpositionParser.parse(body, format: format, grouping: grouping, limits: utf8)
    }

    static func failure(_ body: String, limits: ParseLimits = utf8) -> String? {
        do {
            _ = try ExpositionParser.parse(body, format: .text, limits: limits)
            return nil
        } catch {
            return error.description
        }
    }

    /// The expected names are what Python's prometheus_client (0.26) writes for each scheme.
    @Test(
        "Escaping schemes",
        arguments: [
            ("my.requests_total", NameEscaping.underscores, "my_requests_total"),
            ("my.requests_total", .dots, "my_dot_requests__total"),
            ("my.requests_total", .values, "U__my_2e_requests__total"),
            ("my.requests_total", .allowUTF8, "my.requests_total"),
            ("plain_gauge", .underscores, "plain_gauge"),
            ("plain_gauge", .values, "plain_gauge"),
            ("plain_gauge", .dots, "plain__gauge"),
            ("req.dur_bucket", .values, "U__req_2e_dur__bucket"),
            ("1st", .underscores, "_st"),
            ("température", .underscores, "temp_rature"),
            ("température", .values, "U__temp_e9_rature"),
            ("a🙂", .values, "U__a_1f642_"),
        ])
    func escaping(name: String, scheme: NameEscaping, expected: String) {
        #expect(String(decoding: NameRules.escape(Array(name.utf8), scheme), as: UTF8.self) == expected)
    }

    @Test("Label names escape without colons; metric names keep them")
    func labelEscaping() {
        #expect(NameRules.escape(Array("a:b".utf8), .underscores) == Array("a:b".utf8))
        #expect(NameRules.escape(Array("a:b".utf8), .underscores, label: true) == Array("a_b".utf8))
    }

    @Test("U__ names decode back; malformed ones stay as they are", arguments: ["my.label", "température", "a🙂b", "x_y", "_"])
    func valuesRoundTrip(name: String) {
        let escaped = String(decoding: NameRules.escape(Array(name.utf8), .values, label: true), as: UTF8.self)
        #expect(NameRules.unescapeValues(escaped) == name)
    }

    @Test("Malformed U__ names are taken literally", arguments: ["U__a_2e", "U__a_zz_b", "U__a_1234567_b", "U__a_d800_b", "U__"])
    func valuesMalformed(name: String) {
        #expect(NameRules.unescapeValues(name) == name)
    }

    @Test("Accept's escaping parameter, per format, highest weight first")
    func negotiation() {
        let prometheus3 =
            "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,"
            + "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1"
        #expect(HeaderList.escaping(for: ["text/plain"], in: prometheus3) == .allowUTF8)
        #expect(HeaderList.escaping(for: ["application/openmetrics-text"], in: prometheus3) == .allowUTF8)
        #expect(HeaderList.escaping(for: ["text/plain"], in: "text/plain;version=0.0.4") == .underscores)
        #expect(HeaderList.escaping(for: ["text/plain"], in: nil) == .underscores)
        #expect(HeaderList.escaping(for: ["text/plain"], in: "text/plain;escaping=values") == .values)
        #expect(HeaderList.escaping(for: ["text/plain"], in: "text/plain;escaping=allow-utf8") == .allowUTF8)
        #expect(HeaderList.escaping(for: ["text/plain"], in: "text/plain;escaping=bogus") == .underscores)
    }

    @Test("Quoted names in a body: the metric name inside the braces, quoted label names")
    func parsing() throws {
        let push = try Self.parse(
            """
            # HELP "my.metric" Requests, by method.
            # TYPE "my.metric" counter
            {"my.metric","http.method"="GET",b="x"} 3
            {"my.metric", "http.method"="PUT"} 1
            """)
        let family = try #require(push.family("my.metric"))
        #expect(family.type == .counter)
        #expect(family.help == "Requests, by method.")
        #expect(family.series.map(\.key.description) == [#"{b="x","http.method"="GET"}"#, #"{"http.method"="PUT"}"#])
        #expect(family.series[0].key.labels.map(\.name) == ["b", "http.method"])
    }

    @Test("A quoted legacy name is the same name unquoted")
    func quotedLegacy() throws {
        let quoted = try Self.parse(#"{"foo","a"="1"} 2"#)
        let plain = try Self.parse(#"foo{a="1"} 2"#)
        #expect(Self.render(quoted, .allowUTF8) == Self.render(plain, .allowUTF8))
        #expect(quoted.families.first?.series.first?.key == plain.families.first?.series.first?.key)
    }

    @Test("Histograms by suffix of a quoted name")
    func histogram() throws {
        let push = try Self.parse(
            """
            # TYPE "req.dur" histogram
            {"req.dur_bucket",le="1"} 1
            {"req.dur_bucket",le="+Inf"} 2
            {"req.dur_sum"} 3
            {"req.dur_count"} 2
            """)
        let family = try #require(push.family("req.dur"))
        #expect(family.type == .histogram)
        guard case .histogram(let h) = family.series.first?.value else {
            Issue.record("not a histogram")
            return
        }
        #expect(h.buckets.map(\.count) == [1, 2])
        #expect(h.sum == 3)
    }

    @Test(
        "Refused names, with the reason",
        arguments: [
            (#"{"a\"b"} 1"#, #"cannot contain \"#),
            (#"{""} 1"#, "cannot be empty"),
            ("{\"a\u{1}b\"} 1", "control characters"),
            (#"{"m","__x"="1"} 1"#, "reserved"),
            (#"{"m","a.b"="1",a_b="2"} 1"#, "would both be a_b"),
            (#"{"m","[.b"="1"} 1"#, "would be __b"),
            (#"{"m" 1"#, "expected , or }"),
            (#"{"m"="1"} 1"#, "expected , or }"),
            (#"{m} 1"#, "expected a quoted metric name"),
            (#"{"m", "x 1"#, "not closed"),
        ])
    func refused(body: String, reason: String) {
        let message = Self.failure(body)
        #expect(message?.contains(reason) == true, "\(message ?? "accepted")")
    }

    @Test(
        "Without the flag, quoted names are refused with a message that names it",
        arguments: [#"{"my.metric"} 1"#, #"m{"a.b"="1"} 1"#, "# TYPE \"my.metric\" gauge\n"])
    func flagOff(body: String) {
        let message = Self.failure(body, limits: ParseLimits())
        #expect(message?.contains("--push.enable-utf8-names") == true, "\(message ?? "accepted")")
    }

    @Test("Path label names: U__-escaped with the flag, refused without it")
    func paths() throws {
        let key = try GroupingKey(path: "/metrics/job/a/U__my_2e_label/v", utf8Names: true)
        #expect(key.labels.map(\.name) == ["job", "my.label"])
        #expect(key.key.description == #"{job="a","my.label"="v"}"#)
        #expect(try GroupingKey(path: key.path, utf8Names: true) == key)
        #expect(key.path == "/metrics/job/a/U__my_2e_label/v")
        let refused = #expect(throws: PathError.self) { try GroupingKey(path: "/metrics/job/a/my.label/v") }
        #expect(refused?.message.contains("--push.enable-utf8-names") == true)
        // `U______x` is `__x`, reserved as a plain `__x` is.
        let reserved = #expect(throws: PathError.self) { try GroupingKey(path: "/metrics/job/a/U______x/v", utf8Names: true) }
        #expect(reserved?.message.contains("reserved") == true)
    }

    @Test("Path labels with UTF-8 names join the body's labels in one sorted key")
    func pathAndBody() throws {
        let grouping = try GroupingKey(path: "/metrics/job/a/U__z_2e_zone/eu", utf8Names: true)
        let push = try Self.parse(#"{"m","a.b"="1"} 1"#, grouping: grouping)
        #expect(push.families.first?.series.first?.key.description == #"{"a.b"="1",job="a","z.zone"="eu"}"#)
        // The same series pushed with the names in another order is the same key.
        let again = try Self.parse(#"m{job="a","z.zone"="eu","a.b"="1"} 1"#)
        #expect(again.families.first?.series.first?.key == push.families.first?.series.first?.key)
    }

    static let body = """
        # HELP "my.metric" Help.
        # TYPE "my.metric" counter
        {"my.metric","http.method"="GET",instance="i"} 3
        # TYPE "req.dur" histogram
        {"req.dur_bucket","a.b"="x",le="1"} 1
        {"req.dur_bucket","a.b"="x",le="+Inf"} 2
        {"req.dur_sum","a.b"="x"} 3
        {"req.dur_count","a.b"="x"} 2
        # TYPE plain gauge
        plain{"z.z"="1"} 4

        """

    static func render(_ push: ParsedPush, _ scheme: NameEscaping, format: ExpositionFormat = .text) -> String {
        var group = GroupState()
        for family in push.families { group.apply(family, nowMs: 0) }
        var writer = ExpositionWriter(format: format)
        writer.nameEscaping = scheme
        writer.addsEmptyInstance = true
        group.render(into: &writer, nowMs: 0)
        writer.finish()
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    @Test("A scrape that allows UTF-8 gets quoted names that read back the same")
    func renderAllowUTF8() throws {
        let push = try Self.parse(Self.body)
        let text = Self.render(push, .allowUTF8)
        #expect(text.contains(#"{"my.metric","http.method"="GET",instance="i"} 3"#))
        #expect(text.contains(#"{"req.dur_bucket","a.b"="x",instance="",le="+Inf"} 2"#))
        #expect(text.contains(#"plain{instance="","z.z"="1"} 4"#))
        #expect(text.contains("# TYPE \"my.metric\" counter\n"))
        let reread = try ExpositionParser.parse(text, format: .text, limits: Self.utf8)
        #expect(Self.render(reread, .allowUTF8) == text)
    }

    @Test(
        "A scrape that asks for no escaping gets legacy names a legacy parser reads", arguments: [NameEscaping.underscores, .values, .dots])
    func renderEscaped(scheme: NameEscaping) throws {
        let push = try Self.parse(Self.body)
        for format in [ExpositionFormat.text, .openMetrics] {
            let text = Self.render(push, scheme, format: format)
            let reread = try ExpositionParser.parse(text, format: format)
            // `values` and `dots` escape a suffix's `_` too (`U__req_2e_dur__bucket`), as
            // every client does, so a legacy reader no longer sees it as `req.dur`'s bucket.
            #expect(reread.families.count == (scheme == .underscores ? 3 : 5), "\(text)")
            let expected = String(decoding: NameRules.escape(Array("my.metric".utf8), scheme), as: UTF8.self)
            #expect(reread.families.contains { $0.name.hasPrefix(expected) }, "\(text)")
        }
        if scheme == .underscores {
            #expect(Self.render(push, scheme).contains(#"req_dur_bucket{a_b="x",instance="",le="1"} 1"#))
        }
    }

    @Test("An OpenMetrics counter whose declared name a UTF-8 family escapes to is declared unknown, as with a legacy one")
    func openMetricsCounterBesideEscapedName() throws {
        let push = try Self.parse("# TYPE go_x_total counter\ngo_x_total 1\n# TYPE \"go.x\" gauge\n{\"go.x\"} 2\n")
        for scheme in [NameEscaping.underscores, .allowUTF8] {
            let text = Self.render(push, scheme, format: .openMetrics)
            // Escaped, `go.x` is `go_x`, the name OpenMetrics would declare the counter by.
            let reread = try ExpositionParser.parse(text, format: .openMetrics, limits: Self.utf8)
            #expect(reread.families.count == 2, "\(text)")
            #expect(text.contains(scheme == .underscores ? "# TYPE go_x_total unknown" : "# TYPE go_x counter"), "\(text)")
        }
    }

    @Test("Protobuf: UTF-8 names are read with the flag and written as each scheme asks")
    func protobuf() throws {
        let push = try Self.parse(Self.body)
        var group = GroupState()
        for family in push.families { group.apply(family, nowMs: 0) }
        var writer = ProtobufWriter()
        writer.nameEscaping = .allowUTF8
        group.render(into: &writer, nowMs: 0)
        writer.finish()
        let bytes = writer.takeBytes()
        let back = try bytes.withUnsafeBytes { try ProtobufExposition.parse($0, limits: Self.utf8) }
        #expect(back.families.map(\.name).sorted() == ["my.metric", "plain", "req.dur"])
        #expect(back.family("req.dur")?.series.first?.key.description == #"{"a.b"="x"}"#)
        let refused = #expect(throws: ExpositionError.self) { try bytes.withUnsafeBytes { try ProtobufExposition.parse($0) } }
        #expect(refused?.message.contains("--push.enable-utf8-names") == true)

        var escaped = ProtobufWriter()
        escaped.nameEscaping = .underscores
        group.render(into: &escaped, nowMs: 0)
        escaped.finish()
        let legacy = try escaped.takeBytes().withUnsafeBytes { try ProtobufExposition.parse($0) }
        #expect(legacy.families.map(\.name).sorted() == ["my_metric", "plain", "req_dur"])
    }

    @Test("A UTF-8 family claims its escaped name: my.metric and my_metric cannot both be stored")
    func escapedNameConflict() throws {
        let rules = PushRules(maxSeries: 100)
        let both = try Self.parse("{\"my.metric\"} 1\nmy_metric 2\n", grouping: GroupingKey(labels: [("job", "a")]))
        let failure = #expect(throws: PushFailure.self) {
            try rules.validate(both, to: GroupingKey(labels: [("job", "a")]), method: .post, in: PushPipelineTests.FakeState())
        }
        #expect(failure?.code == .conflict)
        #expect(failure?.message.contains("my_metric") == true)
        #expect(MetricType.gauge.exposedNames(ofFamily: "my.metric") == ["my.metric", "my_metric"])
        #expect(MetricType.gauge.exposedNames(ofFamily: "my_metric") == ["my_metric"])
        // Names the gateway writes itself are reserved in their escaped form too.
        #expect(PushRules.writesReservedName("push.time_seconds", type: .gauge) == "push_time_seconds")
        #expect(PushRules.writesReservedName("gravel.gateway_x", type: .gauge) == "gravel_gateway_x")
        #expect(PushRules.writesReservedName("my.metric", type: .gauge) == nil)
    }
}
