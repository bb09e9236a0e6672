import Logging
import NIOCore
import NIOHTTP1
import Shared
import Synchronization

/// What the lifecycle thread waits for from the Telemetry API.
package struct TelemetrySignals: Sendable {
    /// Request ids whose `platform.runtimeDone` arrived, most recent last (bounded).
    package var runtimeDone: [String] = []
    /// Request ids whose runtimeDone came but whose `platform.report` has not.
    package var awaitingReport: Set<String> = []
    /// The request id of the latest INVOKE.
    package var lastInvoke: String?
    /// `platform.initRuntimeDone` came: the function's init code has run.
    package var runtimeInitDone = false

    package init() {}

    package func isDone(_ requestId: String) -> Bool { runtimeDone.contains(requestId) }

    /// Whether every invocation so far is fully reported: the latest one's runtimeDone came
    /// (after a function timeout it may come only during SHUTDOWN), and every report.
    package var settled: Bool { (lastInvoke.map(isDone) ?? true) && awaitingReport.isEmpty }
}

/// The Telemetry API destination: receives platform events, signals invocation ends, and
/// feeds platform metrics into the batch.
package final class TelemetryListener: Sendable {
    package let signals: WatchedValue<TelemetrySignals>
    private let platform: Mutex<PlatformMetrics>
    private let store: BatchStore
    private let platformMetrics: Bool
    private let clock: SandboxClock
    private let logger: Logger

    /// The largest delivery accepted: Lambda sends at most `maxBytes` (1 MiB at most) of
    /// events per delivery; anything larger is not Lambda's.
    package static let maxDeliveryBytes = 2 << 20
    /// Request ids remembered for the lifecycle; forged deliveries cannot grow these sets.
    static let rememberedRequests = 64

    package init(store: BatchStore, platform: PlatformMetrics, platformMetrics: Bool, clock: SandboxClock, logger: Logger) {
        self.signals = WatchedValue(TelemetrySignals())
        self.platform = Mutex(platform)
        self.store = store
        self.platformMetrics = platformMetrics
        self.clock = clock
        self.logger = logger
    }

    package func respond(to request: LocalRequest) -> LocalResponse {
        guard request.method == .POST else { return LocalResponse(status: .methodNotAllowed, headers: [("Allow", "POST")]) }
        let events: [TelemetryEvent]
        do {
            events = try TelemetryEvent.parseBatch(request.body.readableBytesView)
        } catch {
            logger.warning("unreadable telemetry delivery", metadata: ["error": "\(error)"])
            return LocalResponse(status: .badRequest, body: "\(error)\n")
        }
        handle(events)
        return LocalResponse(status: .ok)
    }

    /// Applies events in delivery order.
    package func handle(_ events: [TelemetryEvent]) {
        for event in events {
            logger.trace("telemetry event", metadata: ["event": "\(event)"])
            if platformMetrics { record(event) }
            switch event {
            case .runtimeDone(let requestId, _):
                signals.update { signals in
                    signals.runtimeDone.append(requestId)
                    if signals.runtimeDone.count > Self.rememberedRequests { signals.runtimeDone.removeFirst() }
                    if signals.awaitingReport.count < Self.rememberedRequests { signals.awaitingReport.insert(requestId) }
                }
            case .report(let report):
                signals.update { _ = $0.awaitingReport.remove(report.requestId) }
            case .initRuntimeDone:
                signals.update { $0.runtimeInitDone = true }
            default:
                break
            }
        }
    }

    /// The platform metrics' group, once registration told the account id; the extension's
    /// own metrics (drops) go there too.
    package func setGrouping(_ grouping: GroupingKey) {
        platform.withLock { $0.grouping = grouping }
        store.setOwnGrouping(grouping)
    }

    /// Counts an invocation from the Extensions API alone (no telemetry subscription).
    package func recordInvokeWithoutTelemetry() {
        guard platformMetrics else { return }
        let families = platform.withLock { $0.invokeWithoutTelemetry() }
        push(families)
    }

    private func record(_ event: TelemetryEvent) {
        let now = clock.wallMs()
        let families = platform.withLock { $0.families(for: event, nowMs: now) }
        push(families)
    }

    private func push(_ families: [ParsedFamily]) {
        guard !families.isEmpty else { return }
        let grouping = platform.withLock { $0.grouping }
        do {
            try store.push(ParsedPush(families: families), to: grouping, method: .post, arrivalMs: clock.wallMs(), convert: false)
        } catch {
            logger.warning("platform metrics dropped", metadata: ["error": "\(error)"])
        }
    }
}
