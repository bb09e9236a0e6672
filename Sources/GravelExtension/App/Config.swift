import Logging

/// The extension's settings, read from the function's environment variables.
package struct Config: Sendable {
    package struct Address: Sendable, Equatable {
        package var host: String
        package var port: Int

        /// Parses `host:port`, `[v6]:port` or `:port` (all interfaces).
        package init?(_ text: String) {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            var host = String(text[..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            if host.isEmpty { host = "0.0.0.0" }
            guard let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
            self.host = host
            self.port = port
        }

        package init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
    }

    /// `AWS_LAMBDA_RUNTIME_API`: host:port of the Extensions and Telemetry APIs.
    package var runtimeAPI: String
    /// `GRAVEL_GATEWAY_URL` without a trailing slash.
    package var gatewayURL: String
    package var gatewayPassword: String?
    package var gatewayCAFile: String?
    package var listen: Address
    /// The job of pushes to plain `/metrics`.
    package var job: String
    package var functionName: String
    /// `AWS_REGION`: a label of the platform metrics, so same-named functions in two
    /// regions do not merge.
    package var region: String
    /// `AWS_LAMBDA_INITIALIZATION_TYPE`: on-demand, provisioned-concurrency or snap-start.
    package var initializationType: String
    package var flush: FlushStrategy
    package var flushTimeoutMs: Int
    package var maxSeries: Int
    package var cumulative: Bool
    /// `GRAVEL_UTF8_NAMES`: accept UTF-8 metric and label names, as the gateway's
    /// `--push.enable-utf8-names` (which the gateway needs too).
    package var utf8Names: Bool
    package var platformMetrics: Bool
    package var logLevel: Logger.Level
    /// Where the Telemetry API listener binds (`0.0.0.0`, port 0 picks a free one).
    package var telemetryListen: Address
    /// The host Lambda reaches the listener at; `sandbox.localdomain` inside Lambda.
    package var telemetryHost: String
    /// Turns the Telemetry API off: flush at the next INVOKE and at SHUTDOWN instead.
    package var telemetry: Bool
    /// The longest wait between retries of a failed flush, in seconds.
    package var maxBackoff: Duration
    /// Largest push body accepted on the local listener, also after gzip decoding.
    package var maxBodyBytes: Int

    /// `Lambda-Extension-Name`: the executable's file name, as Lambda requires.
    package var extensionName: String

    /// Reads the configuration. Every problem is reported at once, in one message.
    package init(environment env: [String: String], extensionName: String = ExecutableName.fallback) throws(ConfigError) {
        self.extensionName = extensionName
        var problems: [String] = []
        func flag(_ name: String, default value: Bool) -> Bool {
            guard let text = env[name]?.lowercased(), !text.isEmpty else { return value }
            switch text {
            case "1", "true", "yes", "on": return true
            case "0", "false", "no", "off": return false
            default:
                problems.append("\(name)=\(text) is not a boolean; use 1 or 0")
                return value
            }
        }
        func integer(_ name: String, default value: Int, range: ClosedRange<Int>) -> Int {
            guard let text = env[name], !text.isEmpty else { return value }
            guard let n = Int(text), range.contains(n) else {
                problems.append("\(name)=\(text) must be an integer in \(range.lowerBound)...\(range.upperBound)")
                return value
            }
            return n
        }

        runtimeAPI = env["AWS_LAMBDA_RUNTIME_API"] ?? ""
        if runtimeAPI.isEmpty { problems.append("AWS_LAMBDA_RUNTIME_API is not set; the extension only runs inside Lambda or an emulator") }

        var url = env["GRAVEL_GATEWAY_URL"] ?? ""
        while url.hasSuffix("/") { url.removeLast() }
        if url.isEmpty {
            problems.append("GRAVEL_GATEWAY_URL is not set; set it to the gateway's base URL, e.g. https://gravel.example.com:4278")
        } else if !(url.lowercased().hasPrefix("http://") || url.lowercased().hasPrefix("https://")) {
            problems.append("GRAVEL_GATEWAY_URL=\(url) must start with http:// or https://")
        }
        gatewayURL = url
        gatewayPassword = env["GRAVEL_GATEWAY_PASSWORD"].flatMap { $0.isEmpty ? nil : $0 }
        gatewayCAFile = env["GRAVEL_GATEWAY_CA_FILE"].flatMap { $0.isEmpty ? nil : $0 }

        let listenText = env["GRAVEL_LISTEN"].flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1:9091"
        if let address = Address(listenText) {
            listen = address
        } else {
            problems.append("GRAVEL_LISTEN=\(listenText) is not host:port")
            listen = Address(host: "127.0.0.1", port: 9091)
        }

        functionName = env["AWS_LAMBDA_FUNCTION_NAME"] ?? ""
        region = env["AWS_REGION"] ?? ""
        initializationType = (env["AWS_LAMBDA_INITIALIZATION_TYPE"].flatMap { $0.isEmpty ? nil : $0 } ?? "on-demand").lowercased()
        job = env["GRAVEL_JOB"].flatMap { $0.isEmpty ? nil : $0 } ?? functionName
        if job.isEmpty { problems.append("GRAVEL_JOB is empty and AWS_LAMBDA_FUNCTION_NAME is not set") }

        let flushText = env["GRAVEL_FLUSH"].flatMap { $0.isEmpty ? nil : $0 } ?? "adaptive"
        if let strategy = FlushStrategy(flushText) {
            flush = strategy
        } else {
            problems.append("GRAVEL_FLUSH=\(flushText) is not end, periodic,<seconds> or adaptive")
            flush = .adaptive
        }
        flushTimeoutMs = integer("GRAVEL_FLUSH_TIMEOUT_MS", default: 1000, range: 1...900_000)
        let memoryMB = env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"].flatMap { Int($0) }
        maxSeries = integer("GRAVEL_MAX_SERIES", default: Self.defaultMaxSeries(memoryMB: memoryMB), range: 1...100_000_000)
        cumulative = flag("GRAVEL_CUMULATIVE", default: false)
        utf8Names = flag("GRAVEL_UTF8_NAMES", default: false)
        platformMetrics = flag("GRAVEL_PLATFORM_METRICS", default: true)
        telemetry = flag("GRAVEL_TELEMETRY", default: true)
        maxBackoff = .milliseconds(integer("GRAVEL_RETRY_MAX_BACKOFF_MS", default: 30_000, range: 0...3_600_000))
        maxBodyBytes = integer("GRAVEL_MAX_BODY_BYTES", default: 16 << 20, range: 1024...(1 << 30))

        let levelText = (env["GRAVEL_LOG_LEVEL"].flatMap { $0.isEmpty ? nil : $0 } ?? "info").lowercased()
        if let level = Logger.Level(rawValue: levelText == "warn" ? "warning" : levelText) {
            logLevel = level
        } else {
            problems.append("GRAVEL_LOG_LEVEL=\(levelText) is not trace, debug, info, notice, warning, error or critical")
            logLevel = .info
        }

        let telemetryText = env["GRAVEL_TELEMETRY_LISTEN"].flatMap { $0.isEmpty ? nil : $0 } ?? "0.0.0.0:0"
        if let address = Address(telemetryText), address.port != 9001 {
            telemetryListen = address
        } else {
            problems.append("GRAVEL_TELEMETRY_LISTEN=\(telemetryText) is not host:port (port 9001 is reserved by Lambda)")
            telemetryListen = Address(host: "0.0.0.0", port: 0)
        }
        telemetryHost = env["GRAVEL_TELEMETRY_HOST"].flatMap { $0.isEmpty ? nil : $0 } ?? "sandbox.localdomain"

        if !problems.isEmpty { throw ConfigError(problems: problems) }
    }
}

/// Settings that cannot work, all of them.
package struct ConfigError: Error, Sendable, CustomStringConvertible {
    package let problems: [String]
    package var description: String { problems.joined(separator: "; ") }
}

extension Config {
    /// The buffer bound for a function of this much memory: 80 series per MB (a buffered
    /// series costs about 250 bytes, so about 2% of the memory), at least 2,000 and at most
    /// 100,000 (the bound without a memory size). A 128 MB function buffers 10,240 series,
    /// about 2.5 MB.
    package static func defaultMaxSeries(memoryMB: Int?) -> Int {
        guard let memoryMB, memoryMB > 0 else { return 100_000 }
        return min(100_000, max(2_000, memoryMB * 80))
    }

    /// The log level alone, so logging works before the rest of the configuration is read.
    package static func logLevel(_ env: [String: String]) -> Logger.Level {
        let text = (env["GRAVEL_LOG_LEVEL"] ?? "info").lowercased()
        return Logger.Level(rawValue: text == "warn" ? "warning" : text) ?? .info
    }
}
