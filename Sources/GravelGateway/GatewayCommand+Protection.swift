import ArgumentParser
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle
import UnixSignals

extension GatewayCommand {
    /// What the auth, TLS, timeout and expiry options resolve to. Everything is read and
    /// checked before the gateway binds, so a mistake stops start-up with a message.
    struct Protection {
        var passwordFile: String?
        var authenticator: Authenticator?
        var tls: TLSConfiguration?
        var seriesTTL: Duration?
        var readTimeout: Duration
        var writeTimeout: Duration = .seconds(60)
        var connections = ConnectionLimitHandler.Counter(limit: 1000)
    }

    func protectionSettings() throws -> Protection {
        if protectScrape, basicAuthFile == nil {
            throw ValidationError("--protect-scrape needs --basic-auth-file: without a password file there is nothing to check")
        }
        var protection = Protection(readTimeout: .seconds(30))
        guard let readTimeout = DurationText.parse(readTimeout) else {
            throw ValidationError("--read-timeout \(readTimeout) is not a duration: use \(DurationText.help)")
        }
        protection.readTimeout = readTimeout
        guard let writeTimeout = DurationText.parse(writeTimeout) else {
            throw ValidationError("--write-timeout \(writeTimeout) is not a duration: use \(DurationText.help)")
        }
        protection.writeTimeout = writeTimeout
        guard maxConnections > 0 else { throw ValidationError("--max-connections must be at least 1") }
        protection.connections = ConnectionLimitHandler.Counter(limit: maxConnections)
        if let seriesTtl {
            guard let ttl = DurationText.parse(seriesTtl) else {
                throw ValidationError("--series-ttl \(seriesTtl) is not a duration: use \(DurationText.help)")
            }
            protection.seriesTTL = ttl
        }
        switch (tlsCert, tlsKey) {
        case (nil, nil):
            break
        case (let cert?, let key?):
            protection.tls = try TLSFiles.serverConfiguration(certificate: cert, key: key)
        case (_?, nil):
            throw ValidationError("--tls-cert needs --tls-key: give both to serve HTTPS, or neither for plain HTTP")
        case (nil, _?):
            throw ValidationError("--tls-key needs --tls-cert: give both to serve HTTPS, or neither for plain HTTP")
        }
        if let basicAuthFile {
            let file = try PasswordFile.load(path: basicAuthFile)
            protection.passwordFile = basicAuthFile
            protection.authenticator = Authenticator(hashes: file.hashes)
        }
        return protection
    }

    /// Runs the services until SIGTERM or SIGINT, then shuts them down in reverse order:
    /// the expiry and reload services first, the HTTP server last, which stops accepting,
    /// answers the requests in flight and closes idle connections.
    static func runUntilStopped(_ services: [any Service], logger: Logger) async throws {
        var configuration = ServiceGroupConfiguration(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        // Requests in flight get this long to finish; read timeouts bound them anyway.
        configuration.maximumGracefulShutdownDuration = .seconds(10)
        try await ServiceGroup(configuration: configuration).run()
        logger.info("gravel-gateway stopped")
    }
}

extension GatewayCommand.Protection {
    func serverBuilder(logger: Logger) throws -> HTTPServerBuilder {
        let timeout = TimeAmount(readTimeout)
        let writeTimeout = TimeAmount(self.writeTimeout)
        let connections = self.connections
        let http1 = HTTPServerBuilder.http1(
            configuration: .init(
                additionalChannelHandlers: [
                    ConnectionLimitHandler(counter: connections, logger: logger),
                    RequestReadTimeoutHandler(timeout: timeout, logger: logger),
                    WriteTimeoutHandler(timeout: writeTimeout, logger: logger),
                ],
                idleTimeout: timeout))
        guard let tls else { return http1 }
        return try .tls(http1, tlsConfiguration: tls)
    }

    /// The services that run beside the HTTP server.
    func services(
        store: MetricStore, metrics: GatewayMetrics, clock: @escaping @Sendable () -> Double, logger: Logger
    ) -> [any Service] {
        var file: (String, Authenticator)? = nil
        if let passwordFile, let authenticator { file = (passwordFile, authenticator) }
        var services: [any Service] = [PasswordFileReloadService(file: file, logger: logger)]
        if let seriesTTL {
            services.append(SeriesExpiryService(store: store, metrics: metrics, ttl: seriesTTL, clock: clock, logger: logger))
        }
        return services
    }

    func startMetadata(listen: String) -> Logger.Metadata {
        var metadata: Logger.Metadata = [
            "address": "\(listen)",
            "scheme": "\(tls == nil ? "http" : "https")",
            "read_timeout": "\(readTimeout)",
            "write_timeout": "\(writeTimeout)",
            "max_connections": "\(connections.limit)",
        ]
        if let authenticator {
            metadata["auth"] = "\(authenticator.hashCount) bcrypt hashes"
        }
        if let seriesTTL { metadata["series_ttl"] = "\(seriesTTL)" }
        return metadata
    }
}
