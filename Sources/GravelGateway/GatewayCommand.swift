import ArgumentParser
import Hummingbird
import Logging
import ServiceLifecycle
import Shared

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// `gravel-gateway`: parses options, builds the gateway, runs it until SIGTERM or SIGINT.
@main
struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gravel-gateway",
        abstract: "An aggregating Prometheus push gateway steered per series by the clearmode label.")

    @Option(name: [.customShort("l"), .customLong("listen")], help: "Address to listen on, host:port.")
    var listen = "localhost:4278"

    @Option(help: "Largest accepted push body in bytes, also after gzip decoding.")
    var maxBodyBytes = 16 * 1024 * 1024

    @Option(help: "Most series the gateway holds; a push that would pass it is refused whole.")
    var maxSeries = 1_000_000

    @Option(help: "Most groups (grouping keys) the gateway holds; a push that would create one more is refused.")
    var maxGroups = 100_000

    @Flag(help: "Serve OpenMetrics to scrapers that prefer it in Accept (default: text 0.0.4 only, as the Pushgateway).")
    var enableOpenmetrics = false

    @Flag(
        name: .customLong("push.enable-utf8-names"),
        help: "Accept UTF-8 metric and label names: quoted in bodies, U__-escaped in paths (as the Pushgateway's flag).")
    var enableUTF8Names = false

    @Option(help: "Most labels of one series, path labels included.")
    var maxLabelsPerSeries = ParseLimits().maxLabelsPerSeries

    @Option(help: "Longest label name in bytes.")
    var maxLabelNameBytes = ParseLimits().maxLabelNameBytes

    @Option(help: "Longest label value in bytes, escaped as the text format writes it.")
    var maxLabelValueBytes = ParseLimits().maxLabelValueBytes

    @Option(help: "Most buckets of one histogram series, +Inf included.")
    var maxBuckets = ParseLimits().maxBuckets

    @Option(help: "Most quantiles of one summary series.")
    var maxQuantiles = ParseLimits().maxQuantiles

    @Option(
        help: ArgumentHelp(
            "File of bcrypt hashes, one per line (htpasswd -bnBC 10 \"\" PASSWORD | tr -d ':\\n'); pushes then need a password. Re-read on SIGHUP.",
            valueName: "file"))
    var basicAuthFile: String?

    @Flag(help: "With --basic-auth-file, GET /metrics needs a password too.")
    var protectScrape = false

    @Option(help: ArgumentHelp("PEM certificate (chain) to serve HTTPS with; needs --tls-key.", valueName: "file"))
    var tlsCert: String?

    @Option(help: ArgumentHelp("PEM private key of --tls-cert.", valueName: "file"))
    var tlsKey: String?

    @Option(help: ArgumentHelp("Drop groups not pushed to for this long, e.g. 90s, 15m, 2h (default: keep them).", valueName: "duration"))
    var seriesTtl: String?

    @Option(help: ArgumentHelp("Close connections idle this long, and requests whose body takes longer to arrive.", valueName: "duration"))
    var readTimeout = "30s"

    @Option(
        help: ArgumentHelp("Close connections whose client stops reading its response this long (a stalled scrape).", valueName: "duration")
    )
    var writeTimeout = "60s"

    @Option(help: "Most connections open at once; more are closed as they open.")
    var maxConnections = 1000

    @Flag(name: .customLong("web.enable-admin-api"), help: "Serve PUT /api/v1/admin/wipe and show delete buttons on the page at /.")
    var enableAdminAPI = false

    @Option(
        help: ArgumentHelp(
            "Keep the state durably in this directory: every change is logged and synced before it is acknowledged (default: in memory only).",
            valueName: "dir"))
    var dataDir: String?

    @Option(help: ArgumentHelp("With --data-dir, write a snapshot this often (and on shutdown), e.g. 5m.", valueName: "duration"))
    var snapshotInterval = "5m"

    @Option(help: ArgumentHelp("Remember Idempotency-Key headers of applied pushes this long, e.g. 10m.", valueName: "duration"))
    var idempotencyWindow = "10m"

    @Flag(help: "With --data-dir, start even if the log is damaged in the middle, dropping the damaged records (they are logged).")
    var walAcceptCorruption = false

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    @Flag(name: [.customShort("V"), .customLong("version")], help: "Print the version and exit.")
    var printVersion = false

    func run() async throws {
        if printVersion {
            print("gravel-gateway \(GravelVersion.string)")
            return
        }
        guard let level = Logger.Level(rawValue: logLevel.lowercased()) else {
            throw ValidationError("unknown log level \(logLevel); use trace, debug, info, notice, warning, error or critical")
        }
        let address = try ListenAddress(listen)
        let protection = try protectionSettings()
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "gravel-gateway")
        for (flag, value) in [
            ("--max-labels-per-series", maxLabelsPerSeries), ("--max-label-name-bytes", maxLabelNameBytes),
            ("--max-label-value-bytes", maxLabelValueBytes), ("--max-buckets", maxBuckets), ("--max-quantiles", maxQuantiles),
        ] where value < 1 {
            throw ValidationError("\(flag) must be at least 1, got \(value)")
        }
        guard let window = DurationText.parse(idempotencyWindow) else {
            throw ValidationError("--idempotency-window \(idempotencyWindow) is not a duration: use \(DurationText.help)")
        }
        guard let interval = DurationText.parse(snapshotInterval), interval > .zero else {
            throw ValidationError("--snapshot-interval \(snapshotInterval) is not a positive duration: use \(DurationText.help)")
        }
        var durability: DataDirectoryService? = nil
        let store: MetricStore
        let metrics: GatewayMetrics
        if let dataDir {
            let walMetrics = WALMetrics()
            let log = WriteAheadLog(directory: dataDir, metrics: walMetrics, logger: logger)
            store = MetricStore(
                rules: PushRules(maxSeries: maxSeries, maxGroups: maxGroups), logger: logger, journal: log,
                idempotencyWindow: window.seconds)
            metrics = GatewayMetrics(version: GravelVersion.string, wal: walMetrics)
            durability = DataDirectoryService(
                settings: .init(
                    directory: dataDir, snapshotInterval: interval, acceptCorruption: walAcceptCorruption,
                    idempotencyWindow: window.seconds),
                store: store, log: log, metrics: walMetrics, logger: logger)
        } else {
            store = MetricStore(
                rules: PushRules(maxSeries: maxSeries, maxGroups: maxGroups), logger: logger, idempotencyWindow: window.seconds)
            metrics = GatewayMetrics(version: GravelVersion.string)
        }
        let clock: @Sendable () -> Double = { Date().timeIntervalSince1970 }
        var responder = GatewayResponder(
            store: store, metrics: metrics, maxBodyBytes: maxBodyBytes, clock: clock)
        responder.parseLimits = ParseLimits(
            maxLabelsPerSeries: maxLabelsPerSeries, maxLabelNameBytes: maxLabelNameBytes,
            maxLabelValueBytes: maxLabelValueBytes, maxBuckets: maxBuckets, maxQuantiles: maxQuantiles)
        responder.parseLimits.utf8Names = enableUTF8Names
        responder.authenticator = protection.authenticator
        responder.protectScrape = protectScrape
        responder.openMetrics = enableOpenmetrics
        responder.webSettings = .init(adminAPI: enableAdminAPI, flags: statusFlags, startTime: clock())

        if let durability { responder.isReady = { durability.isReady } }
        let app = Application(
            responder: InstrumentedResponder(wrapped: responder, metrics: metrics.requests),
            server: try protection.serverBuilder(logger: logger),
            configuration: .init(address: .hostname(address.host, port: address.port), serverName: nil),
            logger: logger)
        // Shutdown runs in reverse order: the HTTP server stops before the data directory's
        // final snapshot, so no change arrives after it. The replay runs beside the server,
        // which answers /-/healthy at once and /-/ready once the replay is done.
        var services: [any Service] = durability.map { [$0] } ?? []
        services.append(app)
        services += protection.services(store: store, metrics: metrics, clock: clock, logger: logger)
        logger.info("gravel-gateway \(GravelVersion.string) listening", metadata: protection.startMetadata(listen: listen))
        try await Self.runUntilStopped(services, logger: logger)
    }
}

/// A `host:port` listen address; `[::1]:port` for IPv6, `:port` for all interfaces.
struct ListenAddress {
    var host: String
    var port: Int

    /// `:port` binds `::`, which on Linux takes IPv4 too (as `::ffff:a.b.c.d`) unless
    /// `net.ipv6.bindv6only` is 1; then, or without IPv6, it binds `0.0.0.0` as before.
    init(_ text: String) throws {
        try self.init(text, bindV6Only: Self.readBindV6Only())
    }

    /// - Parameter bindV6Only: the content of `/proc/sys/net/ipv6/bindv6only`, nil when
    ///   there is no such file (no IPv6 on Linux; other systems default to dual stack).
    init(_ text: String, bindV6Only: String?) throws {
        guard let colon = text.lastIndex(of: ":") else {
            throw ValidationError("listen address \(text) needs a port, as host:port")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.isEmpty { host = Self.wildcardHost(bindV6Only: bindV6Only) }
        guard let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw ValidationError("listen address \(text) has an invalid port")
        }
        self.host = host
        self.port = port
    }

    static func wildcardHost(bindV6Only: String?) -> String {
        #if os(Linux)
        return bindV6Only?.filter { !$0.isWhitespace } == "0" ? "::" : "0.0.0.0"
        #else
        return "::"
        #endif
    }

    static func readBindV6Only() -> String? {
        #if os(Linux)
        return try? String(contentsOfFile: "/proc/sys/net/ipv6/bindv6only", encoding: .utf8)
        #else
        return nil
        #endif
    }
}
