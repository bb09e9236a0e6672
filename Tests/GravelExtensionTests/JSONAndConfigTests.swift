@testable import GravelExtension
import Testing

@Suite("JSON reader and configuration")
struct JSONAndConfigTests {
    @Test("JSON values, escapes and errors")
    func json() throws {
        let v = try JSONValue.parse(#" {"a": [1, -2.5e3, true, false, null], "s": "x\"\\\/\n\u00e9\ud83d\ude00"} "#)
        #expect(v["a"] == .array([.number(1), .number(-2500), .bool(true), .bool(false), .null]))
        #expect(v["s"]?.string == "x\"\\/\né😀")
        for bad in ["", "{", "[1,]", "{\"a\" 1}", "\"\\ud800\"", "01x", "[1] 2"] {
            #expect(throws: JSONError.self, "\(bad)") { try JSONValue.parse(bad) }
        }
        #expect(JSONText.quoted("a\"b\n\u{1}") == #""a\"b\n\u0001""#)
    }

    let base = ["AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001", "GRAVEL_GATEWAY_URL": "https://gw.example:4278/", "AWS_LAMBDA_FUNCTION_NAME": "checkout"]

    @Test("Defaults")
    func defaults() throws {
        let c = try Config(environment: base)
        #expect(c.gatewayURL == "https://gw.example:4278")
        #expect(c.listen == Config.Address(host: "127.0.0.1", port: 9091))
        #expect(c.job == "checkout")
        #expect(c.flush == .adaptive)
        #expect(c.flushTimeoutMs == 1000)
        #expect(c.platformMetrics && !c.cumulative)
        #expect(c.telemetryHost == "sandbox.localdomain")
    }

    @Test("Every problem is reported at once")
    func problems() {
        do {
            _ = try Config(environment: ["GRAVEL_GATEWAY_URL": "ftp://x", "GRAVEL_FLUSH": "never", "GRAVEL_FLUSH_TIMEOUT_MS": "-1"])
            Issue.record("expected an error")
        } catch {
            #expect(error.problems.count == 5)  // runtime API, URL, job, flush, timeout
        }
    }
}
