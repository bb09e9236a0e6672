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
    package let signals: ConditionBox<TelemetrySignals>
    private let platform: Mutex<PlatformMetrics>
    private let store: BatchStore
    private let platformMetrics: Bool
    private let clock: Clock
    private let logger: Logger

    package init(store: BatchStore, platform: PlatformMetrics, platformMetrics: Bool, clock: Clock, logger: Logger) {
        self.signals = ConditionBox(TelemetrySignals())
        self.platform = Mutex(platform)
        self.store = store
        self.platformMetrics = platformMetrics
        self.clock = clock
        self.logger = logger
    }

    package func respond(to request: HTTPRequest) -> HTTPResponse {
        guard request.method == .POST else { return HTTPResponse(status: .methodNotAllowed, headers: [("Allow", "POST")]) }
        let events: [TelemetryEvent]
        do {
            events = try TelemetryEvent.parseBatch(request.body.readableBytesView)
        } catch {
            logger.warning("unreadable telemetry delivery: \(error)")
            return HTTPResponse(status: .badRequest, body: "\(error)\n")
        }
        handle(events)
        return HTTPResponse(status: .ok)
    }

    /// Applies events in delivery order.
    package func handle(_ events: [TelemetryEvent]) {
        for event in events {
            logger.trace("telemetry event", metadata: ["event": "\(event)"])
            if platformMetrics { record(event) }
            switch event {
            case .runtimeDone(let requestId, _):
                signals.withLock { signals in
                    signals.runtimeDone.append(requestId)
                    if signals.runtimeDone.count > 64 { signals.runtimeDone.removeFirst() }
                    signals.awaitingReport.insert(requestId)
                }
            case .report(let report):
                signals.withLock { _ = $0.awaitingReport.remove(report.requestId) }
            case .initRuntimeDone:
                signals.withLock { $0.runtimeInitDone = true }
            default:
                break
            }
        }
    }

    /// The platform metrics' group, once registration told the account id.
    package func setGrouping(_ grouping: GroupingKey) {
        platform.withLock { $0.grouping = grouping }
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
            logger.warning("platform metrics dropped: \(error)")
        }
    }
}
