import CCurl
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
    /// Whether invocation ends are signalled by `platform.runtimeDone`; once one failed to
    /// come, the extension flushes at each INVOKE instead (lifecycle thread only).
    var awaitRuntimeDone = false

    package init(config: Config, logger: Logger, clock: SandboxClock = .system) {
        self.config = config
        self.logger = logger
        self.clock = clock
        let platformGrouping = Self.platformGrouping(config: config, accountId: nil)
        store = BatchStore(maxSeries: config.maxSeries, cumulative: config.cumulative, ownGrouping: platformGrouping)
        telemetry = TelemetryListener(
            store: store, platform: PlatformMetrics(grouping: platformGrouping, initializationType: config.initializationType),
            platformMetrics: config.platformMetrics, clock: clock, logger: logger)
        flusher = Flusher(
            store: store, policy: FlushPolicy(strategy: config.flush, maxBackoff: config.maxBackoff, nowMs: clock.wallMs()),
            clock: clock, logger: logger)
    }

    /// The group of the platform metrics: job, function name, region and account, so that
    /// same-named functions in two regions or accounts stay apart.
    static func platformGrouping(config: Config, accountId: String?) -> GroupingKey {
        var labels = [(name: "job", value: config.job)]
        if !config.functionName.isEmpty { labels.append((name: "function_name", value: config.functionName)) }
        if !config.region.isEmpty { labels.append((name: "region", value: config.region)) }
        if let accountId { labels.append((name: "account_id", value: accountId)) }
        return GroupingKey(labels: labels)
    }

    /// Runs until SHUTDOWN; returns the process exit status.
    package func run() -> Int32 {
        // One event loop per listener: a slow push from the function never delays the
        // telemetry deliveries the lifecycle waits for.
        let loops = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let pushLoop = loops.next()
        let telemetryLoop = loops.next()
        let api = ExtensionsClient(runtimeAPI: config.runtimeAPI, logger: logger)

        // Bind first, so the function can push as soon as its init code runs.
        let pushServer = PushServer(
            store: store, defaultJob: config.job, maxBodyBytes: config.maxBodyBytes, clock: clock, logger: logger,
            utf8Names: config.utf8Names)
        var listenError: String? = nil
        do {
            _ = try HTTPServer.bind(
                host: config.listen.host, port: config.listen.port, group: pushLoop, maxBodyBytes: config.maxBodyBytes,
                responder: { pushServer.respond(to: $0) })
        } catch {
            listenError = "cannot listen on GRAVEL_LISTEN=\(config.listen.host):\(config.listen.port): \(error)"
        }

        do {
            if let accountId = try api.register(name: config.extensionName) {
                telemetry.setGrouping(Self.platformGrouping(config: config, accountId: accountId))
            }
        } catch {
            logger.critical("registration failed", metadata: ["error": "\(error)"])
            return 1
        }
        logger.debug("registered", metadata: ["identifier": "\(api.identifier ?? "")", "name": "\(config.extensionName)"])
        if let listenError {
            logger.critical("cannot listen for pushes", metadata: ["error": "\(listenError)"])
            api.initError(reason: "ListenFailed", message: listenError)
            return 1
        }

        let telemetryOn = config.telemetry && subscribe(api: api, group: telemetryLoop)
        awaitRuntimeDone = telemetryOn
        flusher.start { [config, logger] in GatewayClient(config: config, logger: logger) }
        logger.info(
            "gravel-extension ready",
            metadata: [
                "version": "\(GravelVersion.string)",
                "listen": "\(config.listen.host):\(config.listen.port)", "gateway": "\(config.gatewayURL)",
                "flush": "\(config.flush)", "telemetry": "\(telemetryOn)",
            ])

        // Start-up (configuration, registration, the listeners) is done: give back the heap
        // pages it freed, so an idle sandbox holds only what the steady state needs.
        gravel_release_free_heap()

        if config.initializationType == "snap-start" {
            // The snapshot is taken when Init ends, and whatever is buffered then would be
            // sent by every sandbox restored from it. Init ends only once this extension
            // calls /event/next, so wait for the function's init code to finish
            // (platform.initRuntimeDone) and send its pushes now, once.
            if telemetryOn, !telemetry.signals.wait(until: .now + Self.snapshotInitWait, { $0.runtimeInitDone }) {
                logger.warning(
                    "SnapStart: no platform.initRuntimeDone; pushes made by init code after now would be sent by every restored sandbox")
            }
            report(flusher.flush(deadline: .now + .milliseconds(config.flushTimeoutMs)), requestId: "init")
        }
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

    /// Time kept free before Lambda's deadline for the call to `/event/next`: an extension
    /// still busy at the deadline times the invocation out, and Lambda resets the sandbox.
    static let deadlineMargin = Duration.milliseconds(100)
    /// The longest a SnapStart Init waits for the function's init code before the snapshot.
    static let snapshotInitWait = Duration.seconds(60)

    /// The last instant the extension may work for an event due at `deadlineMs` (`nil`
    /// without one): Lambda's deadline less the margin for the call to `/event/next`.
    func usableEnd(deadlineMs: Int64) -> ContinuousClock.Instant? {
        deadlineMs > 0 ? clock.instant(atWallMs: deadlineMs) - Self.deadlineMargin : nil
    }

    /// The end of a flush started now: the flush budget, cut short by the invocation's own
    /// deadline (see ``usableEnd(deadlineMs:)``).
    func flushDeadline(usableEnd: ContinuousClock.Instant?) -> ContinuousClock.Instant {
        let now = ContinuousClock.now
        let budgetEnd = now + .milliseconds(config.flushTimeoutMs)
        guard let usableEnd else { return budgetEnd }
        return max(now, min(budgetEnd, usableEnd))
    }

    func invoke(requestId: String, deadlineMs: Int64, telemetry telemetryOn: Bool) {
        flusher.policy.withLock { [clock] in $0.invocationStarted(atMs: clock.wallMs()) }
        telemetry.signals.update { $0.lastInvoke = requestId }
        let usableEnd = usableEnd(deadlineMs: deadlineMs)
        guard awaitRuntimeDone else {
            // No runtimeDone to wait for: the previous invocation's pushes are complete now.
            if !telemetryOn { telemetry.recordInvokeWithoutTelemetry() }
            report(flusher.flushIfDue(deadline: flushDeadline(usableEnd: usableEnd)), requestId: requestId)
            return
        }
        // This invocation's pushes are still to come, so ask as if there were data. When the
        // answer is no, waiting for runtimeDone would only be billed: go back to /next now.
        guard flusher.isDue(hasData: true) else { return }

        // Wait for the runtime's answer, keeping time for the flush before Lambda's deadline
        // (the flush budget, or half of what is left when the function's timeout is short).
        var waitEnd = ContinuousClock.now + .seconds(900)
        if let usableEnd {
            let usable = max(.zero, usableEnd - .now)
            let reserve = min(Duration.milliseconds(config.flushTimeoutMs), usable / 2)
            waitEnd = usableEnd - reserve
        }
        if !telemetry.signals.wait(until: waitEnd, { $0.isDone(requestId) }) {
            // A runtimeDone that does not come before the deadline will most likely never
            // come (dropped, or the subscription broke): waiting again at every invocation
            // would hold each one to its deadline.
            awaitRuntimeDone = false
            logger.error(
                "no platform.runtimeDone before the invocation's deadline (lost telemetry, or the function timed out); flushing at each INVOKE from now on",
                metadata: ["requestId": "\(requestId)"])
        }
        report(flusher.flushIfDue(deadline: flushDeadline(usableEnd: usableEnd)), requestId: requestId)
    }

    func shutdown(reason: String, deadlineMs: Int64, telemetry telemetryOn: Bool) {
        let start = ContinuousClock.now
        let deadline = usableEnd(deadlineMs: deadlineMs).map { max(start + .milliseconds(50), $0) } ?? start + .seconds(2)
        logger.info("shutdown", metadata: ["reason": "\(reason)", "ms_left": "\((deadline - start).milliseconds)"])
        if telemetryOn {
            // The last invocation's platform.report usually comes only now; after a function
            // timeout, its runtimeDone too. Both count (lambda_timeouts_total, durations), so
            // wait for them, keeping at least half of the budget for the flush.
            let reportWait = start + min(.seconds(1), (deadline - start) / 2)
            if !telemetry.signals.wait(until: reportWait, { $0.settled }) {
                logger.warning("shutdown: the last invocation's platform events did not all come")
            }
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
            logger.info(
                "a previous flush is still running; this batch waits for the next flush point", metadata: ["requestId": "\(requestId)"])
        case .timedOut:
            logger.warning(
                "flush deadline reached; the sandbox may freeze with the flush in progress", metadata: ["requestId": "\(requestId)"])
        case .failed(let error):
            logger.debug("flush failed", metadata: ["error": "\(error)", "requestId": "\(requestId)"])
        }
    }
}

extension ExtensionApp {
    /// Runs without metrics after a configuration error: registers and follows events until
    /// SHUTDOWN. Reporting `init/error` instead would make Lambda fail every invoke of the
    /// function over a metrics setting; the error is logged once, loudly, where the
    /// function's logs show it.
    package static func runIdle(environment: [String: String], extensionName: String, error: any Error, logger: Logger) -> Int32 {
        logger.critical("invalid configuration; running without metrics until the function is redeployed", metadata: ["error": "\(error)"])
        guard let runtimeAPI = environment["AWS_LAMBDA_RUNTIME_API"], !runtimeAPI.isEmpty else { return 1 }
        let api = ExtensionsClient(runtimeAPI: runtimeAPI, logger: logger)
        do {
            try api.register(name: extensionName)
        } catch {
            logger.critical("registration failed", metadata: ["error": "\(error)"])
            return 1
        }
        while true {
            do {
                if case .shutdown = try api.next() { return 0 }
            } catch {
                logger.critical("event/next failed", metadata: ["error": "\(error)"])
                return 1
            }
        }
    }
}
