import Shared
import Synchronization
import Testing

@testable import GravelGateway

@Suite("Pushgateway JSON API")
struct PushgatewayAPITests {
    func store(_ pushes: [(job: String, body: String)], now: Double = 1_796_127_436.5) throws -> MetricStore {
        let store = MetricStore()
        for (job, body) in pushes {
            let grouping = GroupingKey(labels: [("job", job)])
            try store.push(try ExpositionParser.parse(body, grouping: grouping), to: grouping, method: .post, now: now)
        }
        return store
    }

    @Test("A group is an object of labels, last_push_successful and one entry per family, keys sorted")
    func groupShape() throws {
        let store = try store([
            (
                "batch",
                "# HELP reqs Requests \"served\".\n# TYPE reqs counter\nreqs{path=\"/b\"} 1234567\nreqs{path=\"/a\"} 3\n"
                    + "# TYPE lat histogram\nlat_bucket{le=\"0.1\"} 1\nlat_bucket{le=\"1\"} 2\nlat_bucket{le=\"+Inf\"} 3\nlat_sum 2.5\nlat_count 3\n"
                    + "# TYPE s summary\ns{quantile=\"0.5\"} 1\ns{quantile=\"0.99\"} NaN\ns_sum 3\ns_count 2\n"
            )
        ])
        let text = String(decoding: PushgatewayAPI.metrics(store.snapshot(), now: 1_796_127_440), as: UTF8.self)
        let stamp = #""time_stamp":"2026-12-01T12:17:16.5Z""#
        let expected =
            #"{"status":"success","data":[{"labels":{"job":"batch"},"last_push_successful":true,"#
            + #""lat":{"# + stamp
            + #","type":"HISTOGRAM","metrics":[{"buckets":{"+Inf":"3","0.1":"1","1":"2"},"count":"3","labels":{"instance":"","job":"batch"},"sum":"2.5"}]},"#
            + #""push_failure_time_seconds":{"# + stamp
            + #","type":"GAUGE","help":"Last Unix time when changing this group in the Pushgateway failed.","metrics":[{"labels":{"instance":"","job":"batch"},"value":"0"}]},"#
            + #""push_time_seconds":{"# + stamp
            + #","type":"GAUGE","help":"Last Unix time when changing this group in the Pushgateway succeeded.","metrics":[{"labels":{"instance":"","job":"batch"},"value":"1.7961274365e+09"}]},"#
            + #""reqs":{"# + stamp + #","type":"COUNTER","help":"Requests \"served\".","metrics":["#
            + #"{"labels":{"instance":"","job":"batch","path":"/a"},"value":"3"},{"labels":{"instance":"","job":"batch","path":"/b"},"value":"1.234567e+06"}]},"#
            + #""s":{"# + stamp
            + #","type":"SUMMARY","metrics":[{"count":"2","labels":{"instance":"","job":"batch"},"quantiles":{"0.5":"1","0.99":"NaN"},"sum":"3"}]}}]}"#
        #expect(text == expected)
    }

    @Test("A refused push shows as last_push_successful false with its failure time")
    func failedPush() throws {
        let store = try store([("batch", "x 1\n")])
        store.state.withLock { $0.groups[GroupingKey(labels: [("job", "batch")]).key]!.pushFailureTimeSeconds = 1_796_127_500 }
        let text = String(decoding: PushgatewayAPI.metrics(store.snapshot(), now: 1_796_127_600), as: UTF8.self)
        #expect(text.contains(#""last_push_successful":false"#))
        #expect(text.contains(#"{"labels":{"instance":"","job":"batch"},"value":"1.7961275e+09"}"#))
    }

    @Test("No groups is an empty array, as the Pushgateway answers")
    func empty() {
        #expect(
            String(decoding: PushgatewayAPI.metrics(MetricStore().snapshot(), now: 0), as: UTF8.self)
                == #"{"status":"success","data":[]}"#)
    }

    @Test("Label values that look like markup or JSON stay inside their strings")
    func hostileLabels() throws {
        let store = try store([("batch", "x{v=\"</script>\\\"},\\n\"} 1\n")])
        let text = String(decoding: PushgatewayAPI.metrics(store.snapshot(), now: 0), as: UTF8.self)
        #expect(text.contains(#""v":"\u003c/script\u003e\"},\n""#))
        #expect(text.contains(#"{"labels":{"instance":"","job":"batch","v":"#), "instance=\"\" sorts among the labels")
    }

    @Test("Status lists build information, flags sorted by name, and the start time")
    func status() {
        let text = String(
            decoding: PushgatewayAPI.status(flags: [("max-series", "10"), ("listen", ":4278")], startTime: 0, version: "1.2.3"),
            as: UTF8.self)
        #expect(
            text == #"{"status":"success","data":{"build_information":{"program":"gravel-gateway","version":"1.2.3"},"#
                + #""flags":{"listen":":4278","max-series":"10"},"start_time":"1970-01-01T00:00:00Z"}}"#)
    }
}
