import Shared
import Testing

/// The push layer both programs share: routes, and the rules a push must pass against a
/// state view (docs/SEMANTICS.md S1 to S13, S40 to S44).
@Suite("Push pipeline")
struct PushPipelineTests {
    @Test(
        "Routes: method and path give the operation and the group",
        arguments: [
            ("POST", "/metrics/job/a", PushMethod.post, #"job="a""#),
            ("PUT", "/metrics/job/a/zone/eu?ignored=1", .put, #"job="a",zone="eu""#),
            ("DELETE", "/metrics/job/a%20b", .delete, #"job="a b""#),
            ("POST", "/metrics", .post, #"job="fn""#),
        ])
    func routes(method: String, path: String, expected: PushMethod, key: String) throws {
        let route = try PushRoute(method: method, path: path, defaultJob: "fn")
        #expect(route.method == expected)
        #expect(String(decoding: route.grouping.key.bytes, as: UTF8.self) == key)
    }

    @Test(
        "Routes that are refused, with their code",
        arguments: [
            ("GET", "/metrics/job/a", PushFailure.Code.methodNotAllowed),
            ("PATCH", "/metrics/job/a", .methodNotAllowed),
            ("POST", "/other", .notFound),
            ("GET", "/nope", .notFound),
            ("POST", "/metrics/job", .badPath),
            ("POST", "/metrics/__x/1", .badPath),
            ("POST", "/metrics/job/a/x@base64/%%%", .badPath),
        ])
    func refusedRoutes(method: String, path: String, code: PushFailure.Code) {
        let failure = #expect(throws: PushFailure.self) { try PushRoute(method: method, path: path) }
        #expect(failure?.code == code)
    }

    @Test("Messages cut long client tokens and escape control bytes")
    func clipped() throws {
        let long = String(repeating: "x", count: 1_000_000)
        let failure = #expect(throws: PushFailure.self) { try PushRoute(method: "POST", path: "/" + long) }
        #expect((failure?.message.utf8.count ?? .max) < 400)
        #expect(failure?.message.contains("(1000001 bytes)") == true)
        #expect(PushFailure.clip("a\r\nb\u{1B}[31m") == #"a\x0d\x0ab\x1b[31m"#)
    }

    /// A plain dictionary state: groups and their families, for checking the rules alone.
    struct FakeState: PushStateView {
        var groups: [LabelKey: GroupState] = [:]

        mutating func apply(_ body: String, to job: String, method: PushMethod = .post) throws {
            let grouping = GroupingKey(labels: [("job", job)])
            let push = try ExpositionParser.parse(body, format: .text, grouping: grouping)
            if method == .put { groups[grouping.key] = GroupState() }
            var group = groups[grouping.key] ?? GroupState()
            for family in push.families { group.apply(family, nowMs: 0) }
            groups[grouping.key] = group
        }

        func storedType(of family: String, excludingGroup: LabelKey?) -> MetricType? {
            groups.first { $0.key != excludingGroup && $0.value.families[family] != nil }?.value.families[family]?.type
        }

        func family(writing name: String, excludingGroup: LabelKey?) -> String? {
            for (key, group) in groups where key != excludingGroup {
                for (family, state) in group.families where state.type.exposedNames(ofFamily: family).contains(name) {
                    return family
                }
            }
            return nil
        }

        func owner(of family: String, key: LabelKey) -> LabelKey? {
            groups.first { $0.value.families[family]?.series[key] != nil }?.key
        }

        func group(_ key: LabelKey) -> GroupState? { groups[key] }
        var seriesCount: Int { groups.values.reduce(0) { $0 + $1.seriesCount } }
        var groupCount: Int { groups.count }
    }

    func check(
        _ body: String, job: String, method: PushMethod = .post, in state: FakeState, rules: PushRules = PushRules(maxSeries: 100)
    )
        -> PushFailure.Code?
    {
        let grouping = GroupingKey(labels: [("job", job)])
        do {
            let push = try ExpositionParser.parse(body, format: .text, grouping: grouping)
            try rules.validate(push, to: grouping, method: method, in: state)
            return nil
        } catch let failure as PushFailure {
            return failure.code
        } catch {
            return .badBody
        }
    }

    @Test(
        "Rules against a stored state: group a holds counter c_total, histogram h, gauge g",
        arguments: [
            ("# TYPE c_total counter\nc_total 1\n", "a", PushMethod.post, PushFailure.Code?.none),
            ("# TYPE c_total gauge\nc_total 1\n", "b", .post, .conflict),  // one type per name
            ("# TYPE c_total gauge\nc_total 1\n", "a", .put, nil),  // judged after the PUT
            ("h_sum 1\n", "b", .post, .conflict),  // writes a name histogram h writes
            ("# TYPE h_bucket gauge\nh_bucket 1\n", "a", .put, nil),  // the PUT frees h's names
            ("# TYPE c counter\nc 1\n", "b", .post, .conflict),  // c writes c_total
            ("push_time_seconds 1\n", "b", .post, .reservedName),
            ("# TYPE push_failure_time_seconds_total counter\npush_failure_time_seconds_total 1\n", "b", .post, .reservedName),
            ("# TYPE push_time counter\npush_time 1\n", "b", .post, nil),
            ("gravel_gateway_x 1\n", "b", .post, .reservedName),
            ("# TYPE g gauge\ng 2\n", "b", .post, nil),  // other labels: job="b"
        ])
    func rules(body: String, job: String, method: PushMethod, expected: PushFailure.Code?) throws {
        var state = FakeState()
        try state.apply(
            "# TYPE c_total counter\nc_total 1\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n# TYPE g gauge\ng 1\n", to: "a")
        #expect(check(body, job: job, method: method, in: state) == expected)
    }

    @Test(
        "An addition that would overflow a stored total to infinity is refused (S68)",
        arguments: [
            ("c_total 1e308\n", PushFailure.Code?.some(.conflict)),
            ("c_total 1\n", nil),
            ("c_total{clearmode=\"replace\"} 1e308\n", nil),
            ("g -1e308\n", nil),  // a gauge is replaced by default
            ("g{clearmode=\"aggregate\"} 1e308\n", .conflict),
            ("h_bucket{le=\"+Inf\"} 1e308\nh_count 1e308\nh_sum 1\n", .conflict),
            ("h_bucket{le=\"+Inf\"} 1\nh_count 1\nh_sum -1e308\n", .conflict),
            ("s_sum 1\ns_count 1e308\n", .conflict),
            ("other 1e308\n", nil),  // nothing stored to add to
        ])
    func overflow(body: String, expected: PushFailure.Code?) throws {
        var state = FakeState()
        try state.apply(
            "# TYPE c_total counter\nc_total 1e308\n# TYPE g gauge\ng 1e308\n# TYPE h histogram\n"
                + "h_bucket{le=\"+Inf\"} 1e308\nh_count 1e308\nh_sum -1e308\n# TYPE s summary\ns_sum 1\ns_count 1e308\n",
            to: "a")
        let header = "# TYPE c_total counter\n# TYPE g gauge\n# TYPE h histogram\n# TYPE s summary\n"
        #expect(check(header + body, job: "a", in: state) == expected)
    }

    @Test("The same final series from two groups is a conflict")
    func ownership() throws {
        var state = FakeState()
        try state.apply("x{zone=\"eu\"} 1\n", to: "a")
        // Group {job="a",zone="eu"} would expose x{job="a",zone="eu"} too.
        let grouping = GroupingKey(labels: [("job", "a"), ("zone", "eu")])
        let push = try ExpositionParser.parse("x 2\n", format: .text, grouping: grouping)
        let failure = #expect(throws: PushFailure.self) {
            try PushRules(maxSeries: 100).validate(push, to: grouping, method: .post, in: state)
        }
        #expect(failure?.code == .conflict)
        #expect(failure?.message.contains(#"already pushed by group {job="a"}"#) == true)
    }

    @Test("Series and group limits name their setting")
    func limits() throws {
        var state = FakeState()
        try state.apply("a 1\nb 1\n", to: "a")
        let rules = PushRules(maxSeries: 3, maxGroups: 1, maxSeriesSetting: "--max-series", maxGroupsSetting: "--max-groups")
        #expect(check("a 2\nb 2\nc 1\n", job: "a", in: state, rules: rules) == nil)
        #expect(check("c 1\nd 1\n", job: "a", in: state, rules: rules) == .tooManySeries)
        #expect(check("a 5\n", job: "other", in: state, rules: rules) == .tooManyGroups)
        // A PUT frees what it replaces.
        #expect(check("c 1\nd 1\ne 1\n", job: "a", method: .put, in: state, rules: rules) == nil)
    }
}
