import Logging
import Testing

@testable import GravelExtension

#if canImport(Glibc)
import Glibc
#endif

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

    let base = [
        "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001", "GRAVEL_GATEWAY_URL": "https://gw.example:4278/",
        "AWS_LAMBDA_FUNCTION_NAME": "checkout",
    ]

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

    @Test("The buffer bound follows the function's memory unless GRAVEL_MAX_SERIES is set")
    func memoryBound() throws {
        #expect(try Config(environment: base).maxSeries == 100_000)
        #expect(try Config(environment: base.merging(["AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128"]) { $1 }).maxSeries == 10_240)
        #expect(try Config(environment: base.merging(["AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "10240"]) { $1 }).maxSeries == 100_000)
        #expect(Config.defaultMaxSeries(memoryMB: 16) == 2_000)
        let explicit = base.merging(["AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "GRAVEL_MAX_SERIES": "500000"]) { $1 }
        #expect(try Config(environment: explicit).maxSeries == 500_000)
    }

    @Test("The extension's name is its executable's file name")
    func executableName() {
        #expect(ExecutableName.fileName(of: "/opt/extensions/acme-metrics") == "acme-metrics")
        #expect(ExecutableName.fileName(of: "gravel-extension") == "gravel-extension")
        #expect(ExecutableName.fileName(of: "/opt/extensions/x/") == "x")
        #expect(ExecutableName.fileName(of: "") == nil)
        #expect(ExecutableName.fileName(of: "/") == nil)
    }

    @Test("The system CA bundle is the first that exists; the extra file is appended")
    func caBundle() throws {
        let dir = "/tmp/gravel-ca-\(UInt64.random(in: 0...UInt64.max))"
        #expect(mkdir(dir, 0o755) == 0)
        defer {
            for name in ["amazon.crt", "extra.pem"] { unlink("\(dir)/\(name)") }
            rmdir(dir)
        }
        func write(_ name: String, _ text: String) {
            let file = fopen("\(dir)/\(name)", "wb")!
            fputs(text, file)
            fclose(file)
        }
        write("amazon.crt", "SYSTEM")
        write("extra.pem", "EXTRA\n")
        let paths = ["\(dir)/debian.crt", "\(dir)/amazon.crt"]
        let logger = Logger(label: "test")
        #expect(SystemCABundle.trust(extraFile: nil, paths: paths, logger: logger) == .file("\(dir)/amazon.crt"))
        #expect(SystemCABundle.trust(extraFile: "\(dir)/extra.pem", paths: paths, logger: logger) == .pem(Array("SYSTEM\nEXTRA\n".utf8)))
        #expect(SystemCABundle.trust(extraFile: nil, paths: ["\(dir)/none"], logger: logger) == .libraryDefault)
    }
}
