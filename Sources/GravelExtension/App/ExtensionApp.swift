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
    let clock: Clock
    let store: BatchStore
    let telemetry: TelemetryListener
    let flusher: Flusher
    let platformGrouping: GroupingKey
    /// Whether invocation ends are signalled by `platform.runtimeDone`; once one failed to
    /// come, the extension flushes at each INVOKE instead (lifecycle thread only).
    var awaitRuntimeDone = false

    package init(config: Config, logger: Logger, clock: Clock = .system) {
        self.config = config
        self.logger = logger
        self.clock = clock
        platformGrouping = Self.platformGrouping(config: config, accountId: nil)
        store = BatchStore(maxSeries: config.maxSeries, cumulative: config.cumulative, ownGrouping: platformGrouping)
        telemetry = TelemetryListener(
            store: store, platform: PlatformMetrics(grouping: platformGrouping, initializationType: config.initializationType),
            platformMetrics: config.platformMetrics, clock: clock, logger: logger)
        flusher = Flusher(
            store: store, policy: FlushPolicy(strategy: config.flush, maxBackoff: config.maxBackoffSeconds, now: clock.wallSeconds()),
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
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let api = ExtensionsClient(runtimeAPI: config.runtimeAPI, logger: logger)

        // Bind first, so the function can push as soon as its init code runs.
        let pushServer = PushServer(
            store: store, defaultJob: config.job, maxBodyBytes: config.maxBodyBytes, clock: clock, logger: logger)
        var listenError: String? = nil
        do {
            _ = try HTTPServer.bind(
                host: config.listen.host, port: config.listen.port, group: group, maxBodyBytes: config.maxBodyBytes,
                responder: { pushServer.respond(to: $0) })
        } catch {
            listenError = "cannot listen on GRAVEL_LISTEN=\(config.listen.host):\(config.listen.port): \(error)"
        }

        do {
            if let accountId = try api.register(name: config.extensionName) {
                telemetry.setGrouping(Self.platformGrouping(config: config, accountId: accountId))
            }
        } catch {
            logger.critical("registration failed: \(error)")
            return 1
        }
        logger.debug("registered", metadata: ["identifier": "\(api.identifier ?? "")", "name": "\(config.extensionName)"])
        if let listenError {
            logger.critical("\(listenError)")
            api.initError(reason: "ListenFailed", message: listenError)
            return 1
        }

        let telemetryOn = config.telemetry && subscribe(api: api, group: group)
        awaitRuntimeDone = telemetryOn
        flusher.start { [config, logger] in GatewayClient(config: config, logger: logger) }
        logger.info("gravel-extension \(GravelVersion.string) ready", metadata: [
            "listen": "\(config.listen.host):\(config.listen.port)", "gateway": "\(config.gatewayURL)",
            "flush": "\(config.flush)", "telemetry": "\(telemetryOn)",
        ])

        if config.initializationType == "snap-start" {
            // The snapshot is taken when Init ends, and whatever is buffered then would be
            // sent by every sandbox restored from it. Init ends only once this extension
            // calls /event/next, so wait for the function's init code to finish
            // (platform.initRuntimeDone) and send its pushes now, once.
            if telemetryOn, !telemetry.signals.wait(until: clock.monotonic() + Self.snapshotInitWaitSeconds, { $0.runtimeInitDone }) {
                logger.warning("SnapStart: no platform.initRuntimeDone; pushes made by init code after now would be sent by every restored sandbox")
            }
            report(flusher.flush(deadline: clock.monotonic() + Double(config.flushTimeoutMs) / 1000), requestId: "init")
        }
        while true {
            let event: LambdaEvent
            do {
                event = try api.next()
            } catch {
                logger.critical("event/next failed: \(error)")
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
                maxBodyBytes: 4 << 20, responder: { listener.respond(to: $0) })
            port = channel.localAddress?.port ?? config.telemetryListen.port
        } catch {
            logger.warning("cannot listen for telemetry; flushing at the next invoke instead: \(error)")
            return false
        }
        do {
            try api.subscribeTelemetry(destination: "http://\(config.telemetryHost):\(port)")
            return true
        } catch {
            logger.warning("telemetry subscription failed; flushing at the next invoke instead: \(error)")
            return false
        }
    }

    /// Time kept free before Lambda's deadline for the call to `/event/next`: an extension
    /// still busy at the deadline times the invocation out, and Lambda resets the sandbox.
    static let deadlineMarginSeconds = 0.1
    /// The longest a SnapStart Init waits for the function's init code before the snapshot.
    static let snapshotInitWaitSeconds = 60.0

    /// The end of a flush started now for an invocation due at `deadlineMs`: the flush
    /// budget, cut short by the invocation's own deadline (monotonic seconds).
    func flushDeadline(deadlineMs: Int64) -> Double {
        let now = clock.monotonic()
        let budgetEnd = now + Double(config.flushTimeoutMs) / 1000
        guard deadlineMs > 0 else { return budgetEnd }
        let invocationEnd = now + Double(deadlineMs - clock.wallMs()) / 1000 - Self.deadlineMarginSeconds
        return max(now, min(budgetEnd, invocationEnd))
    }

    func invoke(requestId: String, deadlineMs: Int64, telemetry telemetryOn: Bool) {
        flusher.policy.withLock { $0.invocationStarted(at: clock.wallSeconds()) }
        telemetry.signals.withLock { $0.lastInvoke = requestId }
        guard awaitRuntimeDone else {
            // No runtimeDone to wait for: the previous invocation's pushes are complete now.
            if !telemetryOn { telemetry.recordInvokeWithoutTelemetry() }
            report(flusher.flushIfDue(deadline: flushDeadline(deadlineMs: deadlineMs)), requestId: requestId)
            return
        }
        // This invocation's pushes are still to come, so ask as if there were data. When the
        // answer is no, waiting for runtimeDone would only be billed: go back to /next now.
        guard flusher.isDue(hasData: true) else { return }

        // Wait for the runtime's answer, keeping time for the flush before Lambda's deadline
        // (the flush budget, or half of what is left when the function's timeout is short).
        let now = clock.monotonic()
        var waitEnd = now + 900
        if deadlineMs > 0 {
            let usable = Double(deadlineMs - clock.wallMs()) / 1000 - Self.deadlineMarginSeconds
            let reserve = min(Double(config.flushTimeoutMs) / 1000, max(0, usable) / 2)
            waitEnd = now + usable - reserve
        }
        if !telemetry.signals.wait(until: waitEnd, { $0.isDone(requestId) }) {
            // A runtimeDone that does not come before the deadline will most likely never
            // come (dropped, or the subscription broke): waiting again at every invocation
            // would hold each one to its deadline.
            awaitRuntimeDone = false
            logger.error("no platform.runtimeDone before the invocation's deadline (lost telemetry, or the function timed out); flushing at each INVOKE from now on",
                         metadata: ["requestId": "\(requestId)"])
        }
        report(flusher.flushIfDue(deadline: flushDeadline(deadlineMs: deadlineMs)), requestId: requestId)
    }

    func shutdown(reason: String, deadlineMs: Int64, telemetry telemetryOn: Bool) {
        let now = clock.monotonic()
        let remaining = deadlineMs > 0 ? Double(deadlineMs - clock.wallMs()) / 1000 : 2
        let deadline = now + max(0.05, remaining - 0.1)
        logger.info("shutdown", metadata: ["reason": "\(reason)", "ms_left": "\(Int(remaining * 1000))"])
        if telemetryOn {
            // The last invocation's platform.report usually comes only now; after a function
            // timeout, its runtimeDone too. Both count (lambda_timeouts_total, durations), so
            // wait for them, keeping at least half of the budget for the flush.
            let reportWait = now + min(1.0, (deadline - now) / 2)
            if !telemetry.signals.wait(until: reportWait, { $0.settled }) {
                logger.warning("shutdown: the last invocation's platform events did not all come")
            }
        }
        while clock.monotonic() < deadline {
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
            logger.error("shutdown deadline reached with \(store.pendingEntries) series not delivered")
        }
    }

    func report(_ result: Flusher.Result?, requestId: String) {
        guard let result else { return }
        switch result {
        case .delivered, .nothing: break
        case .busy: logger.info("a previous flush is still running; this batch waits for the next flush point")
        case .timedOut: logger.warning("flush timeout reached; the sandbox may freeze with the flush in progress")
        case .failed(let error): logger.debug("flush failed", metadata: ["error": "\(error)", "requestId": "\(requestId)"])
        }
    }
}

extension ExtensionApp {
    /// Runs without metrics after a configuration error: registers and follows events until
    /// SHUTDOWN. Reporting `init/error` instead would make Lambda fail every invoke of the
    /// function over a metrics setting; the error is logged once, loudly, where the
    /// function's logs show it.
    package static func runIdle(environment: [String: String], extensionName: String, error: any Error, logger: Logger) -> Int32 {
        logger.critical("invalid configuration; running without metrics until the function is redeployed: \(error)")
        guard let runtimeAPI = environment["AWS_LAMBDA_RUNTIME_API"], !runtimeAPI.isEmpty else { return 1 }
        let api = ExtensionsClient(runtimeAPI: runtimeAPI, logger: logger)
        do {
            try api.register(name: extensionName)
        } catch {
            logger.critical("registration failed: \(error)")
            return 1
        }
        while true {
            do {
                if case .shutdown = try api.next() { return 0 }
            } catch {
                logger.critical("event/next failed: \(error)")
                return 1
            }
        }
    }
}
