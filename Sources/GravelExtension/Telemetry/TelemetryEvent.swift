/// The Telemetry API platform events the extension reads.
package enum TelemetryEvent: Sendable, Equatable {
    case initStart(initializationType: String?, phase: String?)
    case initReport(initializationType: String?, phase: String?, durationMs: Double?)
    /// The runtime finished its Init (the function's init code has run).
    case initRuntimeDone
    case start(requestId: String)
    case runtimeDone(requestId: String, status: String)
    case report(Report)
    /// SnapStart: a sandbox is being restored from the snapshot (its cold start).
    case restoreStart
    case restoreReport(durationMs: Double?)

    package struct Report: Sendable, Equatable {
        package var requestId: String
        package var status: String
        package var durationMs: Double?
        package var billedDurationMs: Double?
        package var maxMemoryUsedMB: Double?
        package var initDurationMs: Double?

        package init(
            requestId: String, status: String, durationMs: Double? = nil, billedDurationMs: Double? = nil,
            maxMemoryUsedMB: Double? = nil, initDurationMs: Double? = nil
        ) {
            self.requestId = requestId
            self.status = status
            self.durationMs = durationMs
            self.billedDurationMs = billedDurationMs
            self.maxMemoryUsedMB = maxMemoryUsedMB
            self.initDurationMs = initDurationMs
        }
    }

    /// Parses one delivery (a JSON array of events); events of other types are skipped.
    package static func parseBatch(_ bytes: some Collection<UInt8>) throws(JSONError) -> [TelemetryEvent] {
        let document = try JSONValue.parse(bytes)
        let items = document.array ?? [document]
        return items.compactMap(TelemetryEvent.init(json:))
    }

    package init?(json: JSONValue) {
        guard let type = json["type"]?.string else { return nil }
        let record = json["record"] ?? .null
        let metrics = record["metrics"] ?? .null
        switch type {
        case "platform.initStart":
            self = .initStart(initializationType: record["initializationType"]?.string, phase: record["phase"]?.string)
        case "platform.initReport":
            self = .initReport(
                initializationType: record["initializationType"]?.string, phase: record["phase"]?.string,
                durationMs: metrics["durationMs"]?.number)
        case "platform.initRuntimeDone":
            self = .initRuntimeDone
        case "platform.start":
            guard let id = record["requestId"]?.string else { return nil }
            self = .start(requestId: id)
        case "platform.runtimeDone":
            guard let id = record["requestId"]?.string else { return nil }
            self = .runtimeDone(requestId: id, status: record["status"]?.string ?? "success")
        case "platform.report":
            guard let id = record["requestId"]?.string else { return nil }
            self = .report(
                Report(
                    requestId: id, status: record["status"]?.string ?? "success",
                    durationMs: metrics["durationMs"]?.number, billedDurationMs: metrics["billedDurationMs"]?.number,
                    maxMemoryUsedMB: metrics["maxMemoryUsedMB"]?.number, initDurationMs: metrics["initDurationMs"]?.number))
        case "platform.restoreStart":
            self = .restoreStart
        case "platform.restoreReport":
            self = .restoreReport(durationMs: metrics["durationMs"]?.number)
        default:
            return nil
        }
    }
}
