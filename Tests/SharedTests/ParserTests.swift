import Shared
import Testing

@Suite("Text format 0.0.4 parser")
struct ParserTests {
    @Test(
        "Timestamps are refused except on pebble series, where they are the observation time",
        arguments: [
            ("a 1 1395066363000\n", ExpositionFormat.text, 1),
            ("# TYPE c counter\nc_total 1 1500000000\n# EOF\n", .openMetrics, 2),
            ("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1 1395066363000\nh_count 1\n", .text, 2),
            ("# TYPE g gauge\ng{clearmode=\"replace\"} 1 1395066363000\n", .text, 2),
        ])
    func timestampsRefused(body: String, format: ExpositionFormat, line: Int) throws {
        let error = parseError(body, format: format)
        #expect(error?.code == .invalidTimestamp)
        #expect(error?.line == line)
        let pebble = try ExpositionParser.parse("# TYPE g gauge\ng{clearmode=\"max5m\"} 7 1395066363000\n")
        #expect(pebble.family("g")?.series.first?.timestampMs == 1_395_066_363_000)
    }

    @Test("A HELP line after the family's samples is the family's help")
    func helpAfterSamples() throws {
        let push = try ExpositionParser.parse("# TYPE c_total counter\nc_total 1\n# HELP c_total Done.\ng 2\n# HELP g A gauge.\n")
        #expect(push.family("c_total")?.help == "Done.")
        #expect(push.family("g")?.help == "A gauge.")
        // Still one HELP per name.
        #expect(parseError("g 1\n# HELP g One.\n# HELP g Two.\n")?.code == .metadata)
    }

    @Test("Counters, gauges and untyped values with labels")
    func basicFamilies() throws {
        let push = try ExpositionParser.parse(
            """
            # HELP http_requests_total Requests served.
            # TYPE http_requests_total counter
            http_requests_total{method="post",code="200"} 1027
            http_requests_total{method="post",code="400"}    3
            # TYPE temperature gauge
            temperature -3.5
            something_untyped 42

            """)
        let counter = try #require(push.family("http_requests_total"))
        #expect(counter.type == .counter)
        #expect(counter.help == "Requests served.")
        #expect(counter.series.count == 2)
        #expect(counter.series[0].key.description == #"{code="200",method="post"}"#)
        #expect(counter.series[0].value == .scalar(1027))
        #expect(counter.series[0].timestampMs == nil)
        #expect(counter.series[0].mode == .aggregate)
        #expect(push.family("temperature")?.series.first?.value == .scalar(-3.5))
        #expect(push.family("temperature")?.series.first?.mode == .replace)
        #expect(push.family("something_untyped")?.type == .untyped)
    }

    @Test("Trailing comma, E exponent, two blank lines and a plain comment (reported bug)")
    func jvmLine() throws {
        let push = try ExpositionParser.parse("jvm_memory_bytes_used{area=\"heap\",} 9.4094392E12\n\n\n# Service=myapp, owner=team\n")
        let family = try #require(push.family("jvm_memory_bytes_used"))
        #expect(family.series.first?.value == .scalar(9.4094392e12))
        #expect(family.series.first?.key.description == #"{area="heap"}"#)
    }

    @Test(
        "Special values and number spellings",
        arguments: [
            ("NaN", Double.nan), ("+Inf", .infinity), ("-Inf", -.infinity), ("inf", .infinity),
            ("1e3", 1000), ("1E-3", 0.001), ("+5", 5), ("-0.25", -0.25), (".5", 0.5), ("1.", 1),
            ("123456789012345678901234567890", 123456789012345678901234567890.0), ("2.5e-300", 2.5e-300),
            ("1e-320", Double(bitPattern: 2024)),
        ])
    func values(text: String, expected: Double) throws {
        let push = try ExpositionParser.parse("# TYPE m gauge\nm \(text)\n")
        guard case .scalar(let v) = push.families[0].series[0].value else {
            Issue.record("not a scalar")
            return
        }
        if expected.isNaN { #expect(v.isNaN) } else { #expect(v == expected) }
    }

    @Test("Invalid values are refused", arguments: ["0x1p3", "1_000", "abc", "1e", "nan(1)", "--1", "1.2.3"])
    func invalidValues(text: String) {
        let error = parseError("m \(text)\n")
        #expect(error?.code == .invalidValue)
        #expect(error?.line == 1)
    }

    @Test("Escapes in label values are kept canonical; HELP escapes are decoded")
    func escapes() throws {
        let push = try ExpositionParser.parse(
            #"""
            # HELP m A \\ backslash and a\nnewline.
            m{path="C:\\dir",quote="say \"hi\"",nl="a\nb"} 1

            """#)
        let family = try #require(push.family("m"))
        #expect(family.help == "A \\ backslash and a\nnewline.")
        let labels = family.series[0].key.labels
        #expect(labels.map(\.name) == ["nl", "path", "quote"])
        #expect(labels.map(\.value) == ["a\nb", "C:\\dir", "say \"hi\""])
    }

    @Test("Errors name the line and column")
    func errorPositions() {
        let error = parseError("ok 1\nok 2\nbad{a=\"1\" 3\n")
        #expect(error?.line == 3)
        #expect(error?.code == .invalidLabel)
        #expect(error?.description.hasPrefix("line 3, column") == true)
    }

    @Test(
        "Malformed input is refused",
        arguments: [
            ("m{a=\"1\",a=\"2\"} 1\n", ExpositionError.Code.duplicateLabel),
            ("m{__name__=\"x\"} 1\n", .invalidLabel),
            ("m{a=\"\\t\"} 1\n", .invalidLabel),
            ("m{a=\"x} 1\n", .invalidLabel),
            ("m{1a=\"x\"} 1\n", .invalidLabel),
            ("m 1 2 3\n", .syntax),
            ("m 1 12.5\n", .invalidTimestamp),
            ("9m 1\n", .invalidName),
            ("m\n", .invalidValue),
            ("# TYPE m counter\nm -1\n", .negativeCounter),
            ("# TYPE m foo\n", .metadata),
            ("# TYPE m gauge\n# TYPE m gauge\n", .metadata),
            ("m 1\n# TYPE m gauge\n", .metadata),
            ("m{clearmode=\"sometimes\"} 1\n", .invalidClearMode),
            ("# TYPE c counter\nc{clearmode=\"mean5m\"} 1\n", .invalidClearMode),
            ("m{a=\"1\"}} 1\n", .invalidValue),
            ("# TYPE h histogram\nh 1\n", .typeMismatch),
        ])
    func malformed(body: String, code: ExpositionError.Code) {
        #expect(parseError(body)?.code == code, "\(body)")
    }

    @Test("Invalid UTF-8 in a label value is refused")
    func invalidUTF8() throws {
        var bytes = Array("m{a=\"".utf8)
        bytes += [0xC3, 0x28]
        bytes += Array("\"} 1\n".utf8)
        #expect(throws: ExpositionError.self) { try ExpositionParser.parse(bytes) }
    }

    @Test("A family with only HELP and TYPE lines, then other families (reported bug)")
    func metadataOnlyFamily() throws {
        let push = try ExpositionParser.parse(
            """
            # HELP empty_metric Nothing observed yet.
            # TYPE empty_metric histogram
            # HELP other_total Something.
            # TYPE other_total counter
            other_total 5

            """)
        #expect(push.families.map(\.name) == ["other_total"])
    }

    @Test("Unknown clearmode lists the valid ones")
    func unknownClearMode() {
        let error = parseError("m{clearmode=\"nope\"} 1\n")
        #expect(error?.message.contains("aggregate") == true)
        #expect(error?.message.contains("family") == true)
        #expect(error?.message.contains("mean5m") == true)
    }

    @Test("clearmode is removed from keys and steers the mode")
    func clearModeLabel() throws {
        let push = try ExpositionParser.parse(
            """
            # TYPE v gauge
            v{clearmode="aggregate",x="1"} 1
            version{version="0.0.1",clearmode="family"} 1
            m{clearmode="sum"} 1
            i{clearmode="info"} 1

            """)
        #expect(push.family("v")?.series[0].mode == .aggregate)
        #expect(push.family("v")?.series[0].key.description == #"{x="1"}"#)
        #expect(push.family("version")?.replacesFamily == true)
        #expect(push.family("m")?.series[0].mode == .aggregate)
        #expect(push.family("i")?.series[0].mode == .family)
    }

    @Test("Grouping labels are merged into keys and win over body labels")
    func groupingLabels() throws {
        let grouping = GroupingKey(labels: [("job", "checkout"), ("zone", "eu")])
        let push = try ExpositionParser.parse("m{job=\"other\",a=\"1\",zz=\"2\"} 1\nn 2\n", grouping: grouping)
        #expect(push.families[0].series[0].key.description == #"{a="1",job="checkout",zone="eu",zz="2"}"#)
        #expect(push.families[1].series[0].key.description == #"{job="checkout",zone="eu"}"#)
    }

    @Test("Histograms assemble from bucket, sum and count lines")
    func histogram() throws {
        let push = try ExpositionParser.parse(
            """
            # TYPE rpc_seconds histogram
            rpc_seconds_bucket{le="0.05",svc="a"} 24054
            rpc_seconds_bucket{le="0.1",svc="a"} 33444
            rpc_seconds_bucket{svc="a",le="+Inf"} 144320
            rpc_seconds_sum{svc="a"} 53423
            rpc_seconds_count{svc="a"} 144320

            """)
        let family = try #require(push.family("rpc_seconds"))
        #expect(family.type == .histogram)
        #expect(family.series.count == 1)
        #expect(family.series[0].key.description == #"{svc="a"}"#)
        guard case .histogram(let h) = family.series[0].value else {
            Issue.record("not a histogram")
            return
        }
        #expect(h.buckets.map(\.upperBound) == [0.05, 0.1, .infinity])
        #expect(h.buckets.map(\.count) == [24054, 33444, 144320])
        #expect(h.sum == 53423)
        #expect(h.count == 144320)
    }

    @Test(
        "Broken histograms are refused",
        arguments: [
            "h_bucket{le=\"1\"} 5\nh_bucket{le=\"+Inf\"} 3\n",
            "h_bucket{le=\"1\"} 5\nh_bucket{le=\"+Inf\"} 6\nh_count 5\n",
            "h_bucket{le=\"1\"} 5\n",
            "h_bucket 5\n",
            "h_bucket{le=\"x\"} 5\n",
        ])
    func brokenHistograms(body: String) {
        let error = parseError("# TYPE h histogram\n" + body)
        #expect(error != nil)
    }

    @Test("A histogram with only _count gets its +Inf bucket from it")
    func histogramFromCount() throws {
        let push = try ExpositionParser.parse("# TYPE h histogram\nh_sum 3\nh_count 2\n")
        guard case .histogram(let h) = push.families[0].series[0].value else {
            Issue.record("not a histogram")
            return
        }
        #expect(h.buckets == [Bucket(upperBound: .infinity, count: 2)])
    }

    @Test("Summaries assemble quantiles, sum and count")
    func summary() throws {
        let push = try ExpositionParser.parse(
            """
            # TYPE rpc summary
            rpc{quantile="0.5"} 4773
            rpc{quantile="0.99"} 76656
            rpc_sum 1.7560473e+07
            rpc_count 2693

            """)
        guard case .summary(let s) = push.families[0].series[0].value else {
            Issue.record("not a summary")
            return
        }
        #expect(s.quantiles == [Quantile(quantile: 0.5, value: 4773), Quantile(quantile: 0.99, value: 76656)])
        #expect(s.sum == 1.7560473e7)
        #expect(s.count == 2693)
    }

    @Test("A repeated histogram in one body becomes two instances, applied in order")
    func repeatedHistogram() throws {
        let one = "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n"
        let push = try ExpositionParser.parse("# TYPE h histogram\n" + one + one)
        #expect(push.families[0].series.count == 2)
    }

    @Test("_bucket, _sum and _count belong to a family only when TYPE says so")
    func suffixesWithoutType() throws {
        let push = try ExpositionParser.parse("x_bucket 1\nx_sum 2\nx_count 3\n")
        #expect(push.families.map(\.name) == ["x_bucket", "x_sum", "x_count"])
        #expect(push.families.allSatisfy { $0.type == .untyped })
    }

    @Test("Whitespace: tabs, CRLF, leading spaces")
    func whitespace() throws {
        let push = try ExpositionParser.parse("  m{a = \"1\" ,\tb=\"2\"}\t7  \r\n")
        #expect(push.families[0].series[0].value == .scalar(7))
        #expect(push.families[0].series[0].key.description == #"{a="1",b="2"}"#)
    }

    @Test("Empty label set and empty body")
    func empties() throws {
        #expect(try ExpositionParser.parse("m{} 1\n").families[0].series[0].key == .empty)
        #expect(try ExpositionParser.parse("").families.isEmpty)
        #expect(try ExpositionParser.parse("\n\n# just a comment\n").families.isEmpty)
    }
}

@Suite("Parser edge cases of the fast paths")
struct ParserFastPathTests {
    @Test(
        "Duplicate steering labels are refused",
        arguments: [
            "m{clearmode=\"replace\",clearmode=\"aggregate\"} 1\n",
            "# TYPE h histogram\nh_bucket{le=\"1\",le=\"2\"} 1\nh_bucket{le=\"+Inf\"} 1\n",
            "m{b=\"1\",a=\"2\",b=\"3\"} 1\n",
        ])
    func duplicates(body: String) {
        #expect(parseError(body)?.code == .duplicateLabel)
    }

    @Test("Long label values with escapes and UTF-8 at every offset of the 8-byte scan")
    func longValues() throws {
        for pad in 0..<17 {
            let prefix = String(repeating: "x", count: pad)
            let push = try ExpositionParser.parse("m{a=\"\(prefix)\\\"q\\\\é\\n\(prefix)\"} 1\n")
            #expect(push.families[0].series[0].key.labels[0].value == "\(prefix)\"q\\é\n\(prefix)")
        }
        var bad = Array("m{a=\"0123456789".utf8)
        bad.append(0xFF)
        bad += Array("abcdefgh\"} 1\n".utf8)
        #expect(throws: ExpositionError.self) { try ExpositionParser.parse(bad) }
    }

    @Test("Grouping labels interleave with body labels, and override them, in sorted order")
    func groupingOrder() throws {
        let grouping = GroupingKey(labels: [("b", "g1"), ("d", "g2"), ("z", "g3")])
        let push = try ExpositionParser.parse("m{e=\"5\",d=\"body\",a=\"1\",c=\"3\"} 1\n", grouping: grouping)
        #expect(push.families[0].series[0].key.description == #"{a="1",b="g1",c="3",d="g2",e="5",z="g3"}"#)
    }
}

@Suite("Every byte value")
struct ByteValueTests {
    @Test("Any byte where a name or label starts or continues is handled, never a crash")
    func everyByte() {
        for byte in 0...255 {
            for template in ["m\u{0}1 1\n", "\u{0}m 1\n", "m{a\u{0}=\"1\"} 1\n", "m{\u{0}=\"1\"} 1\n"] {
                var bytes = Array(template.utf8)
                let at = bytes.firstIndex(of: 0)!
                bytes[at] = UInt8(byte)
                _ = try? ExpositionParser.parse(bytes)
            }
        }
        // Valid name bytes are exactly [a-zA-Z0-9_:] for metric names.
        let accepted = (0...255).filter { byte in
            (try? ExpositionParser.parse(Array("m".utf8) + [UInt8(byte)] + Array("x 1\n".utf8))) != nil
        }
        let expected =
            Array(UInt8(ascii: "0")...UInt8(ascii: "9")) + [UInt8(ascii: ":")] + Array(UInt8(ascii: "A")...UInt8(ascii: "Z"))
            + [UInt8(ascii: "_")] + Array(UInt8(ascii: "a")...UInt8(ascii: "z"))
        #expect(accepted.map { UInt8($0) } == expected)
    }
}
