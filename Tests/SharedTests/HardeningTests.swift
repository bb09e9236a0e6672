import NIOCore
import Shared
import Testing

/// Parses, merges and renders `body`, then parses and renders the output again: a scrape
/// must read back to the same series (no repeated label or `# TYPE`, nothing unescaped).
func renderReadsBack(_ body: String, grouping: GroupingKey = .empty, format: ExpositionFormat = .text) throws -> String {
    let group = try pushAll([body], grouping: grouping, format: format)
    let first = render(group, format: format)
    #expect(try reread(group, format: format) == first, "\(first)")
    return first
}

func pushBodyRefusal(
    _ body: String, grouping: GroupingKey = .empty, contentType: String? = nil, limits: ParseLimits = ParseLimits(), limit: Int = 1 << 20
) -> PushFailure? {
    do {
        _ = try PushBody.parse(
            ByteBuffer(string: body), contentEncoding: nil, contentType: contentType, grouping: grouping,
            limit: limit, limitName: "--max-body-bytes", limits: limits)
        return nil
    } catch {
        return error
    }
}

@Suite("One push cannot poison the scrape")
struct ScrapePoisoningTests {
    @Test(
        "A bound label on a line the renderer adds it to anyway is refused, naming the line",
        arguments: [
            "# TYPE h histogram\nh_count{le=\"x\"} 1\n",
            "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum{le=\"1\"} 1\n",
            "# TYPE h gaugehistogram\nh_bucket{le=\"+Inf\"} 1\nh_gcount{le=\"1\"} 1\n",
            "# TYPE s summary\ns_count{quantile=\"0.5\"} 1\n",
            "# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum{quantile=\"1\"} 1\n",
        ])
    func boundLabelElsewhere(body: String) {
        let error = parseError(body, format: body.contains("gaugehistogram") ? .openMetrics : .text)
        #expect(error?.code == .invalidLabel)
        #expect(error?.line == body.split(separator: "\n").count)
    }

    @Test("A path label le or quantile is refused for histograms and summaries, kept for others")
    func pathBoundLabels() throws {
        let le = GroupingKey(labels: [("job", "x"), ("le", "1")])
        let quantile = GroupingKey(labels: [("job", "x"), ("quantile", "1")])
        let histogram = "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n"
        let summary = "# TYPE s summary\ns{quantile=\"0.5\"} 1\n"
        for (body, grouping) in [(histogram, le), (summary, quantile)] {
            #expect(throws: ExpositionError.self) { try ExpositionParser.parse(body, grouping: grouping) }
        }
        _ = try renderReadsBack(histogram, grouping: quantile)
        _ = try renderReadsBack(summary, grouping: le)
        _ = try renderReadsBack("# TYPE g gauge\ng 1\n", grouping: le)
    }

    @Test("An empty le on a _count line is no label at all")
    func emptyBoundLabel() throws {
        let text = try renderReadsBack("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count{le=\"\"} 2\n")
        #expect(text == "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 2\n")
    }

    @Test(
        "Adversarial bodies are refused or render to text that reads back",
        arguments: [
            "m{clearmode=\"\"} 1\n",
            "m{a=\"\",b=\"1\"} 1\n",
            "# TYPE h histogram\nh_bucket{a=\"\",le=\"1\"} 1\nh_bucket{le=\"+Inf\",a=\"\"} 1\nh_count{a=\"\"} 1\n",
            "# TYPE c counter\nc_total{clearmode=\"replace\"} NaN\n",
            "# TYPE foo gauge\nfoo 1\n# TYPE foo_total counter\nfoo_total 2\n",
            "m{a=\"x\\\\\",b=\"\\\"\"} 1\n",
            "# HELP m tab\tand \\\\ backslash\nm 1\n",
            "# TYPE s summary\ns{quantile=\"0.5\"} NaN\ns_sum 1\ns_count 1\n",
        ])
    func readsBack(body: String) throws {
        _ = try renderReadsBack(body)
        _ = try renderReadsBack(body, format: .openMetrics)
    }
}

@Suite("Empty label values are absent labels")
struct EmptyLabelTests {
    @Test("In a body, in any position")
    func body() throws {
        let plain = try ExpositionParser.parse("foo{b=\"2\"} 1\n").families[0].series[0].key
        for body in ["foo{a=\"\",b=\"2\"} 1\n", "foo{b=\"2\",z=\"\"} 1\n", "foo{ a = \"\" , b=\"2\",} 1\n"] {
            #expect(try ExpositionParser.parse(body).families[0].series[0].key == plain, "\(body)")
        }
    }

    @Test("In a path: /metrics/job/v/aaa@base64/= is the group {job=\"v\"}")
    func path() throws {
        let grouping = try GroupingKey(path: "/metrics/job/v/aaa@base64/=")
        #expect(grouping == GroupingKey(labels: [("job", "v")]))
        #expect(grouping.key.description == #"{job="v"}"#)
        let push = try ExpositionParser.parse("foo 666\n", grouping: grouping)
        #expect(push.families[0].series[0].key.description == #"{job="v"}"#)
        // An empty path label does not shadow a body label of the same name.
        let body = try ExpositionParser.parse("foo{aaa=\"x\"} 1\n", grouping: grouping)
        #expect(body.families[0].series[0].key.description == #"{aaa="x",job="v"}"#)
    }

    @Test("A repeated name is refused even when one value is empty")
    func duplicates() throws {
        #expect(parseError("m{a=\"\",a=\"1\"} 1\n")?.code == .duplicateLabel)
        #expect(throws: PathError.self) { try GroupingKey(path: "/metrics/job/v/a@base64/=/a/1") }
    }
}

@Suite("Limits bound a push by its size")
struct ParseLimitTests {
    func limitError(_ body: String, _ limits: ParseLimits, grouping: GroupingKey = .empty) -> ExpositionError? {
        do {
            _ = try ExpositionParser.parse(body, grouping: grouping, limits: limits)
            return nil
        } catch {
            return error
        }
    }

    @Test("Labels per series: in the body, with the path labels, in the path alone")
    func labelsPerSeries() {
        let limits = ParseLimits(maxLabelsPerSeries: 3)
        #expect(limitError("m{a=\"1\",b=\"2\",c=\"3\"} 1\n", limits) == nil)
        #expect(limitError("m{a=\"1\",b=\"2\",c=\"3\",d=\"4\"} 1\n", limits)?.code == .limitExceeded)
        // Steering labels do not count.
        #expect(limitError("m{a=\"1\",b=\"2\",c=\"3\",clearmode=\"replace\"} 1\n", limits) == nil)
        let job = GroupingKey(labels: [("job", "j"), ("zone", "z")])
        #expect(limitError("m{a=\"1\",b=\"2\"} 1\n", limits, grouping: job)?.code == .limitExceeded)
        let wide = GroupingKey(labels: (0..<4).map { ("l\($0)", "v") })
        #expect(limitError("", limits, grouping: wide)?.code == .limitExceeded)
        // A line with thousands of labels stops at the limit, before sorting them.
        let many = (0..<5000).map { "l\($0)=\"v\"" }.joined(separator: ",")
        let error = limitError("m{\(many)} 1\n", limits)
        #expect(error?.code == .limitExceeded)
        #expect(error?.message.contains("--max-labels-per-series") == true)
    }

    @Test("Label name and value bytes, in the body and in the path")
    func labelBytes() {
        let limits = ParseLimits(maxLabelNameBytes: 8, maxLabelValueBytes: 10)
        #expect(limitError("m{abcdefgh=\"0123456789\"} 1\n", limits) == nil)
        let name = limitError("m{abcdefghi=\"x\"} 1\n", limits)
        #expect(name?.code == .limitExceeded)
        #expect(name?.message.contains("--max-label-name-bytes") == true)
        let value = limitError("m{a=\"0123456789A\"} 1\n", limits)
        #expect(value?.code == .limitExceeded)
        #expect(value?.message.contains("--max-label-value-bytes") == true)
        #expect(limitError("m 1\n", limits, grouping: GroupingKey(labels: [("job", "0123456789A")]))?.code == .limitExceeded)
        #expect(limitError("m 1\n", limits, grouping: GroupingKey(labels: [("abcdefghi", "1")]))?.code == .limitExceeded)
    }

    @Test("Buckets per histogram and quantiles per summary, the +Inf bucket a _count adds included")
    func bucketsAndQuantiles() {
        let limits = ParseLimits(maxBuckets: 3, maxQuantiles: 2)
        let three = "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"+Inf\"} 1\n"
        #expect(limitError(three, limits) == nil)
        let four = "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"3\"} 1\nh_bucket{le=\"+Inf\"} 1\n"
        #expect(limitError(four, limits)?.message.contains("--max-buckets") == true)
        let countAdds = "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"3\"} 1\nh_count 1\n"
        #expect(limitError(countAdds, limits)?.code == .limitExceeded)
        let quantiles = "# TYPE s summary\ns{quantile=\"0.1\"} 1\ns{quantile=\"0.5\"} 1\ns{quantile=\"0.9\"} 1\n"
        #expect(limitError(quantiles, limits)?.message.contains("--max-quantiles") == true)
    }

    @Test("A long path label copied into many lines is bounded by the body limit")
    func expansion() {
        let grouping = GroupingKey(labels: [("job", String(repeating: "j", count: 4000))])
        let body = String(repeating: "a 1\n", count: 10_000)  // 40 KB that would write out to 40 MB
        let refusal = pushBodyRefusal(body, grouping: grouping, limit: 64 * 1024)
        #expect(refusal?.code == .bodyTooLarge)
        #expect(refusal?.message.contains("--max-body-bytes") == true)
        #expect(pushBodyRefusal(String(repeating: "a 1\n", count: 10), grouping: grouping, limit: 64 * 1024) == nil)
    }

    @Test("Refusals say whether a series is over a limit or the body is malformed")
    func statuses() {
        #expect(pushBodyRefusal("m{a=\"1\",b=\"2\"} 1\n", limits: ParseLimits(maxLabelsPerSeries: 1))?.code == .seriesTooLarge)
        #expect(pushBodyRefusal("m{a=\"1\" 1\n")?.code == .badBody)
    }

    @Test("The defaults admit real expositions")
    func defaults() throws {
        let limits = ParseLimits()
        #expect(limits.maxLabelsPerSeries >= 30 && limits.maxBuckets >= 200 && limits.maxQuantiles >= 20)
        #expect(limits.withBodyLimit(16 << 20).maxExpandedBytes == ParseLimits.expansionFactor * (16 << 20))
        #expect(limits.withBodyLimit(Int.max).maxExpandedBytes == Int.max)
    }
}

@Suite("Parse time is n log n in labels and linear in buckets")
struct ParseComplexityTests {
    static let wide = ParseLimits(maxLabelsPerSeries: 1_000_000, maxBuckets: 1_000_000, maxQuantiles: 1_000_000)

    func seconds(_ body: String) throws -> Double {
        let bytes = Array(body.utf8)
        let clock = ContinuousClock()
        let start = clock.now
        _ = try ExpositionParser.parse(bytes, limits: Self.wide)
        let elapsed = clock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    // Each took minutes in a debug build when it was quadratic (80,000 buckets took 2.7 s
    // optimized); linear, the three take about a second in a debug build.
    @Test("100,000 buckets, 20,000 labels in reverse order, 20,000 quantiles")
    func largeInputs() throws {
        var histogram = "# TYPE h histogram\n"
        for k in 0..<100_000 { histogram += "h_bucket{le=\"\(k)\"} \(k)\n" }
        histogram += "h_bucket{le=\"+Inf\"} 100000\n"
        #expect(try seconds(histogram) < 20)

        let labels = (0..<20_000).reversed().map { "l\($0)=\"v\"" }.joined(separator: ",")
        #expect(try seconds("m{\(labels)} 1\n") < 20)

        var summary = "# TYPE s summary\n"
        for k in 0..<20_000 { summary += "s{quantile=\"\(Double(k) / 20_000)\"} 1\n" }
        #expect(try seconds(summary) < 20)
    }

    @Test("A path with 20,000 labels parses in n log n and still finds a repeat")
    func longPath() throws {
        let pairs = (0..<20_000).map { "/l\($0)/v" }.joined()
        let clock = ContinuousClock()
        let start = clock.now
        let grouping = try GroupingKey(path: "/metrics/job/j" + pairs)
        #expect(grouping.labels.count == 20_001)
        #expect(throws: PathError.self) { try GroupingKey(path: "/metrics/job/j" + pairs + "/l7/again") }
        #expect(clock.now - start < .seconds(20))
    }
}

@Suite("Aggregated series take finite numbers only")
struct NonFiniteTests {
    @Test(
        "NaN and infinities are refused where they would be added",
        arguments: [
            ("# TYPE c counter\nc_total NaN\n", 2),
            ("u +Inf\n", 1),
            ("m{clearmode=\"aggregate\"} -Inf\n", 1),
            ("# TYPE g gauge\ng{clearmode=\"sum\"} NaN\n", 2),
            ("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum NaN\nh_count 1\n", 3),
            ("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} +Inf\n", 3),
            ("# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum Inf\ns_count 1\n", 3),
        ])
    func refused(body: String, line: Int) {
        let error = parseError(body)
        #expect(error?.code == .invalidValue, "\(body)")
        #expect(error?.line == line, "\(body)")
    }

    @Test(
        "Replaced series keep them",
        arguments: [
            "# TYPE g gauge\ng NaN\n",
            "# TYPE g gauge\ng +Inf\n",
            "# TYPE c counter\nc_total{clearmode=\"replace\"} NaN\n",
            "m{clearmode=\"family\"} -Inf\n",
            // The mode of a histogram may come from its last line.
            "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum NaN\nh_count{clearmode=\"replace\"} 1\n",
            "# TYPE s summary\ns{quantile=\"0.5\"} NaN\ns_sum 1\ns_count 1\n",
        ])
    func accepted(body: String) throws {
        _ = try renderReadsBack(body)
    }
}

@Suite("Output safety")
struct OutputSafetyTests {
    @Test("Control bytes in label values and HELP are refused; tabs are kept")
    func controlBytes() throws {
        for byte: UInt8 in [0x00, 0x01, 0x0D, 0x1B, 0x7F] {
            for template in ["m{a=\"x\u{1}y\"} 1\n", "m{a=\"0123456789abcdef\u{1}\"} 1\n", "# HELP m x\u{1}y\nm 1\n"] {
                var bytes = Array(template.utf8)
                bytes[bytes.firstIndex(of: 0x01)!] = byte
                #expect(throws: ExpositionError.self, "\(byte) in \(template)") { try ExpositionParser.parse(bytes) }
            }
        }
        let text = try renderReadsBack("# HELP m a\ttab\nm{a=\"x\ty\"} 1\n")
        #expect(text.contains("x\ty"))
    }

    @Test("Control bytes in path values are refused; an escaped newline is fine")
    func pathControlBytes() throws {
        for encoded in ["%0D", "%1B", "%7F", "%00"] {
            #expect(throws: PathError.self, "\(encoded)") { try GroupingKey(path: "/metrics/job/a\(encoded)b") }
        }
        #expect(throws: PathError.self) { try GroupingKey(path: "/metrics/job@base64/" + Base64URL.encode([0x61, 0x0D])) }
        let grouping = try GroupingKey(path: "/metrics/job/a%0Ab")
        _ = try renderReadsBack("m 1\n", grouping: grouping)
    }

    @Test("Error messages cut long tokens and escape control bytes")
    func messages() {
        let huge = String(repeating: "7", count: 1_000_000)
        let error = parseError("m \(huge)x\n")
        #expect(error?.code == .invalidValue)
        #expect((error?.message.utf8.count ?? .max) < 400)
        #expect(error?.message.contains("…(1000001 bytes)") == true)

        let escape = parseError("m 1\u{1B}[31m\n")
        #expect(escape?.message.contains("\u{1B}") == false)
        #expect(escape?.message.contains("\\x1B") == true)

        do {
            _ = try GroupingKey(path: "/metrics/" + String(repeating: "x", count: 100_000))
            Issue.record("an odd path was accepted")
        } catch {
            #expect(error.message.utf8.count < 500)
        }
        do {
            _ = try PushBody.parse(
                ByteBuffer(string: "m 1\n"), contentEncoding: "x\u{1B}" + String(repeating: "e", count: 10_000), contentType: nil,
                grouping: .empty, limit: 1 << 20, limitName: "--max-body-bytes")
            Issue.record("an unknown Content-Encoding was accepted")
        } catch {
            #expect(error.code == .unsupportedEncoding)
            #expect(error.message.utf8.count < 400 && !error.message.contains("\u{1B}"))
        }
        // A cut never splits a UTF-8 character.
        let cut = ErrorText.token(String(repeating: "é", count: 300))
        #expect(cut.hasPrefix(String(repeating: "é", count: 100) + "…"))
    }

    @Test("OpenMetrics never declares a name twice: a counter foo_total beside a family foo is declared unknown")
    func openMetricsTypes() throws {
        let body =
            "# TYPE foo gauge\nfoo 1\n# TYPE foo_total counter\nfoo_total 2\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n# TYPE h_total counter\nh_total 3\n"
        let text = try renderReadsBack(body, format: .openMetrics)
        #expect(text.split(separator: "\n").filter { $0.hasPrefix("# TYPE foo ") }.count == 1)
        #expect(text.contains("# TYPE foo_total unknown\nfoo_total 2\n"))
        #expect(text.contains("# TYPE h_total unknown\nh_total 3\n"))
        // Alone, the counter keeps its type.
        let alone = try renderReadsBack("# TYPE foo_total counter\nfoo_total 2\n", format: .openMetrics)
        #expect(alone == "# TYPE foo counter\nfoo_total 2\n# EOF\n")
    }
}
