import Testing

@testable import GravelGateway

@Suite("JSON and HTML writers")
struct WebWritersTests {
    func json(_ build: (inout JSONWriter) -> Void) -> String {
        var writer = JSONWriter()
        build(&writer)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    @Test("Objects and arrays get commas between siblings only")
    func structure() {
        let text = json { w in
            w.beginObject()
            w.field("a", "1")
            w.key("b")
            w.beginArray()
            w.beginObject()
            w.endObject()
            w.bool(true)
            w.goNumberString(2)
            w.endArray()
            w.key("c")
            w.stringObject([])
            w.endObject()
        }
        #expect(text == #"{"a":"1","b":[{},true,"2"],"c":{}}"#)
    }

    @Test("Strings are escaped per RFC 8259, and HTML-significant characters as Go writes them")
    func escapes() {
        let text = json { $0.string("q\" b\\ n\n r\r t\t nul\u{0} bell\u{7} <script>&amp; \u{2028}\u{2029} é ☃ \u{2030}") }
        #expect(text == #""q\" b\\ n\n r\r t\t nul\u0000 bell\u0007 \u003cscript\u003e\u0026amp; \u2028\u2029 é ☃ ‰""#)
    }

    @Test(
        "Numbers are spelled as Go's fmt.Sprint spells a float64",
        arguments: [
            (0.0, "0"), (-0.0, "-0"), (1, "1"), (3, "3"), (-2.5, "-2.5"), (0.1, "0.1"), (100_000, "100000"),
            (999_999, "999999"), (1_000_000, "1e+06"), (1_234_567, "1.234567e+06"), (1e21, "1e+21"),
            (0.0001, "0.0001"), (0.00001, "1e-05"), (0.000123, "0.000123"), (1.5e-7, "1.5e-07"),
            (1_796_127_436.8930535, "1.7961274368930535e+09"), (123.456, "123.456"), (Double.leastNonzeroMagnitude, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"), (Double.nan, "NaN"), (Double.infinity, "+Inf"),
            (-Double.infinity, "-Inf"), (12345.678, "12345.678"), (1e100, "1e+100"),
        ] as [(Double, String)])
    func goNumbers(value: Double, expected: String) {
        #expect(GoNumberText.string(value) == expected)
    }

    @Test(
        "Times are RFC 3339 in UTC without trailing zeros in the fraction",
        arguments: [
            (0.0, "1970-01-01T00:00:00Z"), (951_782_400, "2000-02-29T00:00:00Z"),
            (1_796_127_436.893053, "2026-12-01T12:17:16.893053Z"), (1_796_127_436.5, "2026-12-01T12:17:16.5Z"),
            (-1, "1969-12-31T23:59:59Z"), (4_107_542_399, "2100-02-28T23:59:59Z"), (4_107_542_400, "2100-03-01T00:00:00Z"),
        ] as [(Double, String)])
    func times(seconds: Double, expected: String) {
        #expect(RFC3339Time.string(seconds) == expected)
    }

    @Test("HTML text and attributes escape every character that could end them")
    func htmlEscapes() {
        var html = HTMLWriter()
        html.raw("<p")
        html.attribute("title", #"x" onmouseover='alert(1)'"#)
        html.raw(">")
        html.text("<script>alert(\"&\")</script>")
        html.raw("</p>")
        #expect(
            String(decoding: html.bytes, as: UTF8.self)
                == "<p title=\"x&quot; onmouseover=&#39;alert(1)&#39;\">&lt;script&gt;alert(&quot;&amp;&quot;)&lt;/script&gt;</p>")
    }
}
