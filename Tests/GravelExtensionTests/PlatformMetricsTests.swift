import Shared
import Testing

@testable import GravelExtension

@Suite("Platform metrics and telemetry parsing")
struct PlatformMetricsTests {
    let grouping = GroupingKey(labels: [("job", "fn"), ("function_name", "fn")])

    func names(_ families: [ParsedFamily]) -> [String: SeriesValue] {
        Dictionary(uniqueKeysWithValues: families.map { ($0.name, $0.series[0].value) })
    }

    @Test("runtimeDone counts the invocation once; report adds durations and memory")
    func counting() {
        var p = PlatformMetrics(grouping: grouping)
        _ = p.families(for: .initStart(initializationType: "on-demand", phase: "init"), nowMs: 0)
        let done = names(p.families(for: .runtimeDone(requestId: "r1", status: "error"), nowMs: 0))
        #expect(done["lambda_invocations_total"] == .scalar(1))
        #expect(done["lambda_errors_total"] == .scalar(1))
        #expect(done["lambda_timeouts_total"] == .scalar(0))
        #expect(done["lambda_cold_starts_total"] == .scalar(0))
        let report = p.families(
            for: .report(.init(requestId: "r1", status: "error", durationMs: 30, billedDurationMs: 31, maxMemoryUsedMB: 64)), nowMs: 5)
        let r = names(report)
        #expect(r["lambda_invocations_total"] == nil)
        #expect(r["lambda_billed_duration_seconds_total"] == .scalar(0.031))
        #expect(r["lambda_max_memory_used_bytes"] == .scalar(64 * 1_048_576))
        #expect(report.first { $0.name == "lambda_max_memory_used_bytes" }?.series[0].mode == ClearMode("max5m"))
        guard case .histogram(let h) = r["lambda_duration_seconds"] else {
            Issue.record("no histogram")
            return
        }
        #expect(h.count == 1 && h.sum == 0.03)
    }

    @Test("A timeout seen only in the report counts there")
    func timeoutFromReport() {
        var p = PlatformMetrics(grouping: grouping)
        let r = names(p.families(for: .report(.init(requestId: "r9", status: "timeout", durationMs: 3000)), nowMs: 0))
        #expect(r["lambda_timeouts_total"] == .scalar(1))
        #expect(r["lambda_invocations_total"] == .scalar(1))
        #expect(r["lambda_cold_starts_total"] == .scalar(1))
    }

    @Test("A Telemetry API delivery parses; unknown events are skipped")
    func parsing() throws {
        let body = """
            [{"time":"2022-10-12T00:00:15.064Z","type":"platform.runtimeDone","record":{"requestId":"6f7f0961","status":"success","metrics":{"durationMs":101.5,"producedBytes":12}}},
             {"time":"2022-10-12T00:00:15.064Z","type":"platform.logsDropped","record":{}},
             {"type":"platform.report","record":{"requestId":"6f7f0961","status":"success","metrics":{"durationMs":140.3,"billedDurationMs":141,"memorySizeMB":128,"maxMemoryUsedMB":42,"initDurationMs":8.5}}},
             {"type":"platform.initReport","record":{"initializationType":"on-demand","phase":"init","metrics":{"durationMs":12.5}}}]
            """
        let events = try TelemetryEvent.parseBatch(Array(body.utf8))
        #expect(events.count == 3)
        #expect(events[0] == .runtimeDone(requestId: "6f7f0961", status: "success"))
        #expect(
            events[1]
                == .report(
                    .init(
                        requestId: "6f7f0961", status: "success", durationMs: 140.3, billedDurationMs: 141, maxMemoryUsedMB: 42,
                        initDurationMs: 8.5)))
        #expect(events[2] == .initReport(initializationType: "on-demand", phase: "init", durationMs: 12.5))
    }

    @Test("Extensions API events parse, SHUTDOWN reasons in any case")
    func lambdaEvents() throws {
        #expect(
            try LambdaEvent(
                json: Array(
                    #"{"eventType":"INVOKE","deadlineMs":1676051981563,"requestId":"abc","invokedFunctionArn":"arn","tracing":{"type":"X-Amzn-Trace-Id","value":"x"}}"#
                        .utf8))
                == .invoke(requestId: "abc", deadlineMs: 1676051981563))
        #expect(
            try LambdaEvent(json: Array(#"{"eventType":"SHUTDOWN","shutdownReason":"SPINDOWN","deadlineMs":5}"#.utf8))
                == .shutdown(reason: "spindown", deadlineMs: 5))
        #expect(throws: LambdaAPIError.self) { try LambdaEvent(json: Array(#"{"eventType":"RESTORE"}"#.utf8)) }
    }

    func value(_ families: [ParsedFamily], _ name: String) -> (key: String, value: SeriesValue)? {
        families.first { $0.name == name }.map { (String(decoding: $0.series[0].key.bytes, as: UTF8.self), $0.series[0].value) }
    }

    @Test("SnapStart: the snapshot's init counts nothing; the restore is the cold start")
    func snapStart() {
        var p = PlatformMetrics(grouping: grouping, initializationType: "snap-start")
        #expect(p.families(for: .initStart(initializationType: "snap-start", phase: "init"), nowMs: 0).isEmpty)
        #expect(p.families(for: .initReport(initializationType: "snap-start", phase: "init", durationMs: 900), nowMs: 0).isEmpty)
        let restore = p.families(for: .restoreStart, nowMs: 0)
        let cold = value(restore, "lambda_cold_starts_total")
        #expect(cold?.value == .scalar(1))
        #expect(cold?.key.contains(#"initialization_type="snap-start""#) == true)
        let report = p.families(for: .restoreReport(durationMs: 250), nowMs: 0)
        guard case .histogram(let h) = value(report, "lambda_restore_duration_seconds")?.value else {
            Issue.record("no histogram")
            return
        }
        #expect(h.count == 1 && h.sum == 0.25)
        #expect(value(report, "lambda_cold_starts_total") == nil)
    }

    @Test("Provisioned concurrency: the init is labelled and is not a cold start")
    func provisioned() {
        var p = PlatformMetrics(grouping: grouping, initializationType: "provisioned-concurrency")
        #expect(p.families(for: .initStart(initializationType: "provisioned-concurrency", phase: "init"), nowMs: 0).isEmpty)
        let initReport = p.families(
            for: .initReport(initializationType: "provisioned-concurrency", phase: "init", durationMs: 400), nowMs: 0)
        #expect(value(initReport, "lambda_init_duration_seconds")?.key.contains(#"initialization_type="provisioned-concurrency""#) == true)
        let done = p.families(for: .runtimeDone(requestId: "r1", status: "success"), nowMs: 0)
        #expect(value(done, "lambda_cold_starts_total")?.value == .scalar(0))
    }
}
