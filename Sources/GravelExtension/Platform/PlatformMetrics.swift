import Shared

/// Turns platform events into `lambda_*` series for the batch.
///
/// Invocations, errors and timeouts count at `platform.runtimeDone` (in time for that
/// invocation's flush), or at `platform.report` when no runtimeDone came (a timeout).
/// Durations, billing and memory come from `platform.report`, which often arrives during
/// the next invocation; they simply join whichever batch is open then.
///
/// Cold starts and init durations carry `initialization_type`: `on-demand` inits are cold
/// starts; `provisioned-concurrency` inits happen ahead of any request and are not; with
/// SnapStart the init ran once, when the version was published, and what it counted would
/// be in every sandbox restored from the snapshot, so only the restore counts
/// (`platform.restoreStart`, and `lambda_restore_duration_seconds` from restoreReport).
package struct PlatformMetrics: Sendable {
    package var grouping: GroupingKey
    private var coldStartCounted = false
    private var initDurationRecorded = false
    private var restoreRecorded = false
    /// From the telemetry's init events; `defaultInitializationType` until one arrives.
    private var initializationType: String?
    /// AWS_LAMBDA_INITIALIZATION_TYPE, for the label before (or without) init events.
    private let defaultInitializationType: String
    /// Requests whose outcome was counted, most recent last (bounded).
    private var counted: [String] = []

    static let durationBounds: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900]
    static let initBounds: [Double] = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    package init(grouping: GroupingKey, initializationType: String = "on-demand") {
        self.grouping = grouping
        self.defaultInitializationType = initializationType.isEmpty ? "on-demand" : initializationType
    }

    private var currentInitializationType: String { initializationType ?? defaultInitializationType }

    /// The sandbox's one cold start, counted at the first event that shows it.
    private mutating func countColdStart(_ out: inout [ParsedFamily]) {
        guard !coldStartCounted else { return }
        coldStartCounted = true
        out.append(coldStarts(1))
    }

    /// The families one event adds; empty when it adds nothing.
    package mutating func families(for event: TelemetryEvent, nowMs: Int64) -> [ParsedFamily] {
        var out: [ParsedFamily] = []
        switch event {
        case .initStart(let type, let phase):
            guard phase == nil || phase == "init" else { break }
            if let type { initializationType = type }
            if currentInitializationType == "on-demand" { countColdStart(&out) }
        case .initReport(let type, let phase, let durationMs):
            guard phase == nil || phase == "init" else { break }
            if let type, initializationType == nil { initializationType = type }
            // The snapshot's init: recorded by no restored sandbox (see the type's comment).
            guard currentInitializationType != "snap-start" else { break }
            if currentInitializationType == "on-demand" { countColdStart(&out) }
            if let durationMs, !initDurationRecorded {
                initDurationRecorded = true
                out.append(initDuration(durationMs / 1000))
            }
        case .restoreStart:
            initializationType = "snap-start"
            countColdStart(&out)
        case .restoreReport(let durationMs):
            initializationType = "snap-start"
            countColdStart(&out)
            if let durationMs, !restoreRecorded {
                restoreRecorded = true
                out.append(
                    histogram(
                        "lambda_restore_duration_seconds", "SnapStart restore duration, as platform.restoreReport gives it.",
                        Self.initBounds, durationMs / 1000))
            }
        case .start, .initRuntimeDone:
            break
        case .runtimeDone(let requestId, let status):
            out += outcome(requestId: requestId, status: status)
        case .report(let report):
            out += outcome(requestId: report.requestId, status: report.status)
            if let ms = report.durationMs {
                out.append(
                    histogram(
                        "lambda_duration_seconds", "Invocation duration, as platform.report gives it.", Self.durationBounds, ms / 1000))
            }
            if let ms = report.billedDurationMs {
                out.append(counter("lambda_billed_duration_seconds_total", "Billed invocation time.", ms / 1000))
            }
            if let mb = report.maxMemoryUsedMB {
                out.append(
                    ParsedFamily(
                        name: "lambda_max_memory_used_bytes", type: .gauge,
                        help: "Peak memory of the sandbox, as platform.report gives it; the maximum over 5 minutes.",
                        series: [
                            ParsedSeries(
                                key: grouping.key, mode: .pebble(PebbleSpec(aggregation: .max, windowSeconds: 300)),
                                value: .scalar(mb * 1_048_576), timestampMs: nowMs)
                        ]))
            }
            if let ms = report.initDurationMs, !initDurationRecorded, currentInitializationType != "snap-start" {
                initDurationRecorded = true
                out.append(initDuration(ms / 1000))
            }
        }
        return out
    }

    /// Counts an invocation seen only through the Extensions API (no telemetry).
    package mutating func invokeWithoutTelemetry() -> [ParsedFamily] {
        var out = [counter("lambda_invocations_total", "Invocations that finished.", 1)]
        if !coldStartCounted {
            coldStartCounted = true
            out.append(coldStarts(1))
        }
        return out
    }

    private mutating func outcome(requestId: String, status: String) -> [ParsedFamily] {
        guard !counted.contains(requestId) else { return [] }
        counted.append(requestId)
        if counted.count > 64 { counted.removeFirst(counted.count - 64) }
        // Zero increments keep every series present from the first invocation on.
        let status = status.lowercased()
        var out = [
            counter("lambda_invocations_total", "Invocations that finished.", 1),
            counter(
                "lambda_errors_total", "Invocations that ended in an error (status error or failure).",
                status == "error" || status == "failure" ? 1 : 0),
            counter("lambda_timeouts_total", "Invocations that timed out.", status == "timeout" ? 1 : 0),
        ]
        // No init event came (some emulators send none): this process is a fresh sandbox.
        var coldStart = 0.0
        if !coldStartCounted, initializationType == nil, defaultInitializationType == "on-demand" {
            coldStartCounted = true
            coldStart = 1
        }
        out.append(coldStarts(coldStart))
        return out
    }

    private func coldStarts(_ count: Double) -> ParsedFamily {
        counter(
            "lambda_cold_starts_total", "Sandboxes started to serve a request (on-demand inits and SnapStart restores).", count,
            key: typedKey)
    }

    private func initDuration(_ seconds: Double) -> ParsedFamily {
        histogram("lambda_init_duration_seconds", "Init phase duration.", Self.initBounds, seconds, key: typedKey)
    }

    /// The grouping's labels plus `initialization_type`.
    private var typedKey: LabelKey {
        LabelKey(labels: grouping.labels.map { ($0.name, $0.value) } + [("initialization_type", currentInitializationType)])
    }

    private func counter(_ name: String, _ help: String, _ value: Double, key: LabelKey? = nil) -> ParsedFamily {
        ParsedFamily(
            name: name, type: .counter, help: help,
            series: [ParsedSeries(key: key ?? grouping.key, mode: .aggregate, value: .scalar(value))])
    }

    private func histogram(_ name: String, _ help: String, _ bounds: [Double], _ value: Double, key: LabelKey? = nil) -> ParsedFamily {
        var buckets = bounds.map { Bucket(upperBound: $0, count: value <= $0 ? 1 : 0) }
        buckets.append(Bucket(upperBound: .infinity, count: 1))
        return ParsedFamily(
            name: name, type: .histogram, help: help,
            series: [
                ParsedSeries(key: key ?? grouping.key, mode: .aggregate, value: .histogram(HistogramValue(buckets: buckets, sum: value)))
            ])
    }
}
