import Logging
import NIOCore
import NIOPosix
import Shared
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The extension's lifecycle: listen, register, subscribe, then follow Lambda's events,
/// flushing before each freeze and at shutdown.
package final class ExtensionApp {
    let config: Config
    let logger: Logger
    let clock: SandboxClock
    let store: BatchStore
    let telemetry: TelemetryListener
    let flusher: Flusher
    let platformGrouping: GroupingKey

    /// Time kept between the end of a flush and Lambda's deadline for the invocation, for
    /// the HTTP round trip of `/event/next` and scheduling.
    static let deadlineMargin = Duration.milliseconds(50)

    package init(config: Config, logger: Logger, clock: SandboxClock = .system) {
        self.config = config
        self.logger = logger
        self.clock = clock
        var platformLabels = [("job", config.job)]
        if !config.functionName.isEmpty { platformLabels.append(("function_name", config.functionName)) }
        platformGrouping = GroupingKey(labels: platformLabels.map { (name: $0.0, value: $0.1) })
        store = BatchStore(maxSeries: config.maxSeries, cumulative: config.cumulative, ownGrouping: platformGrouping)
        telemetry = TelemetryListener(
            store: store, platform: PlatformMetrics(grouping: platformGrouping), platformMetrics: config.platformMetrics,
            clock: clock, logger: logger)
        flusher = Flusher(
            store: store, policy: FlushPolicy(strategy: config.flush, maxBackoff: config.maxBackoff, nowMs: clock.wallMs()),
            clock: clock, logger: logger)
    }

    /// Runs until SHUTDOWN; returns the process exit status.
    package func run() -> Int32 {
        // One event loop per listener: a slow push from the function never delays the
        // telemetry deliveries the lifecycle waits for.
        let pushLoop = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let telemetryLoop = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let api = ExtensionsClient(runtimeAPI: config.runtimeAPI, logger: logger)

        // Bind first, so the function can push as soon as its init code runs.
        let pushServer = PushServer(
            store: store, defaultJob: config.job, maxBodyBytes: config.maxBodyBytes, clock: clock, logger: logger)
        var listenError: String? = nil
        do {
            _ = try HTTPServer.bind(
                host: config.listen.host, port: config.listen.port, group: pushLoop, maxBodyBytes: config.maxBodyBytes,
                responder: { pushServer.respond(to: $0) })
        } catch {
            listenError = "cannot listen on GRAVEL_LISTEN=\(config.listen.host):\(config.listen.port): \(error)"
        }

        do {
            try api.register(name: Config.extensionName)
        } catch {
            logger.critical("registration failed", metadata: ["error": "\(error)"])
            return 1
        }
        logger.debug("registered", metadata: ["identifier": "\(api.identifier ?? "")"])
        if let listenError {
            logger.critical("cannot listen for pushes", metadata: ["error": "\(listenError)"])
            api.initError(reason: "ListenFailed", message: listenError)
            return 1
        }

        let telemetryOn = config.telemetry && subscribe(api: api, group: telemetryLoop)
        flusher.start { [config, logger] in GatewayClient(config: config, logger: logger) }
        logger.info("gravel-extension ready", metadata: [
            "version": "\(GravelVersion.string)",
            "listen": "\(config.listen.host):\(config.listen.port)", "gateway": "\(config.gatewayURL)",
            "flush": "\(config.flush)", "telemetry": "\(telemetryOn)",
        ])

        while true {
            let event: LambdaEvent
            do {
                event = try api.next()
            } catch {
                logger.critical("event/next failed", metadata: ["error": "\(error)"])
                api.exitError(reason: "EventNextFailed", message: error.message)
                return 1
            }
            switch event {
            case .invoke(let requestId, let deadlineMs):
                invoke(requestId: requestId, deadlineMs: deadlineMs, telemetry: telemetryOn)
            case .shutdown(let reason, let deadlineMs):
                shutdown(reason: reason, deadlineMs: deadlineMs, telemetry: telemetryOn)
                return 0
            }
        }
    }

    /// Binds the Telemetry API listener and subscribes; `false` means run without telemetry.
    func subscribe(api: ExtensionsClient, group: any EventLoopGroup) -> Bool {
        let listener = telemetry
        let port: Int
        do {
            let channel = try HTTPServer.bind(
                host: config.telemetryListen.host, port: config.telemetryListen.port, group: group,
                maxBodyBytes: TelemetryListener.maxDeliveryBytes, responder: { listener.respond(to: $0) })
            port = channel.localAddress?.port ?? config.telemetryListen.port
        } catch {
            logger.warning("cannot listen for telemetry; flushing at the next invoke instead", metadata: ["error": "\(error)"])
            return false
        }
        do {
            try api.subscribeTelemetry(destination: "http://\(config.telemetryHost):\(port)")
            return true
        } catch {
            logger.warning("telemetry subscription failed; flushing at the next invoke instead", metadata: ["error": "\(error)"])
            return false
        }
    }

    /// The latest a flush for this invocation may end: the flush timeout from now, but never
    /// past Lambda's deadline for the invocation (less a margin).
    func flushDeadline(invocationDeadlineMs deadlineMs: Int64) -> ContinuousClock.Instant {
        let budget = ContinuousClock.now + .milliseconds(config.flushTimeoutMs)
        guard deadlineMs > 0 else { return budget }
        return min(budget, clock.instant(atWallMs: deadlineMs) - Self.deadlineMargin)
    }

    func invoke(requestId: String, deadlineMs: Int64, telemetry telemetryOn: Bool) {
        flusher.policy.withLock { [clock] in $0.invocationStarted(atMs: clock.wallMs()) }
        guard telemetryOn else {
            // Without runtimeDone the previous invocation's pushes are complete now.
            telemetry.recordInvokeWithoutTelemetry()
            report(flusher.flushIfDue(deadline: flushDeadline(invocationDeadlineMs: deadlineMs)), requestId: requestId)
            return
        }
        // Wait for the runtime's answer, but never into the time the flush needs before
        // Lambda's deadline: a function still running then keeps pushing into the next batch.
        let budget = Duration.milliseconds(config.flushTimeoutMs)
        let waitEnd = deadlineMs > 0
            ? clock.instant(atWallMs: deadlineMs) - budget - Self.deadlineMargin
            : ContinuousClock.now + .seconds(900)
        let done = telemetry.signals.wait(until: waitEnd) { $0.isDone(requestId) }
        if !done {
            logger.warning("no platform.runtimeDone before the deadline; flushing anyway", metadata: ["requestId": "\(requestId)"])
        }
        report(flusher.flushIfDue(deadline: flushDeadline(invocationDeadlineMs: deadlineMs)), requestId: requestId)
    }

    func shutdown(reason: String, deadlineMs: Int64, telemetry telemetryOn: Bool) {
        let start = ContinuousClock.now
        let deadline = deadlineMs > 0
            ? max(start + .milliseconds(50), clock.instant(atWallMs: deadlineMs) - .milliseconds(100))
            : start + .seconds(2)
        logger.info("shutdown", metadata: ["reason": "\(reason)", "ms_left": "\((deadline - start).milliseconds)"])
        if telemetryOn {
            // The last invocation's platform.report usually comes only now.
            let reportWait = start + min(.milliseconds(300), (deadline - start) / 3)
            _ = telemetry.signals.wait(until: reportWait) { $0.awaitingReport.isEmpty }
        }
        while ContinuousClock.now < deadline {
            switch flusher.flush(deadline: deadline) {
            case .nothing:
                if flusher.waitIdle(until: deadline), !store.hasPendingData { return }
            case .delivered:
                if !store.hasPendingData { return }
            case .busy, .timedOut:
                break
            case .failed:
                // Unreachable gateway: try again until the deadline, a little apart.
                var pause = timespec(tv_sec: 0, tv_nsec: 50_000_000)
                nanosleep(&pause, nil)
            }
        }
        if store.hasPendingData {
            logger.error("shutdown deadline reached with series not delivered", metadata: ["series": "\(store.pendingEntries)"])
        }
    }

    func report(_ outcome: FlushOutcome?, requestId: String) {
        guard let outcome else { return }
        switch outcome {
        case .delivered, .nothing: break
        case .busy:
            logger.info("a previous flush is still running; this batch waits for the next flush point", metadata: ["requestId": "\(requestId)"])
        case .timedOut:
            logger.warning("flush deadline reached; the sandbox may freeze with the flush in progress", metadata: ["requestId": "\(requestId)"])
        case .failed(let error):
            logger.debug("flush failed", metadata: ["error": "\(error)", "requestId": "\(requestId)"])
        }
    }
}

extension ExtensionApp {
    /// Reports an unusable configuration to Lambda (`init/error`), so the function's init
    /// fails with the reason instead of running without its metrics.
    package static func failInit(environment: [String: String], error: any Error, logger: Logger) -> Int32 {
        logger.critical("invalid configuration", metadata: ["error": "\(error)"])
        guard let runtimeAPI = environment["AWS_LAMBDA_RUNTIME_API"], !runtimeAPI.isEmpty else { return 1 }
        let api = ExtensionsClient(runtimeAPI: runtimeAPI, logger: logger)
        do {
            try api.register(name: Config.extensionName)
        } catch {
            logger.critical("registration failed", metadata: ["error": "\(error)"])
            return 1
        }
        api.initError(reason: "ConfigError", message: "\(error)")
        return 1
    }
}
