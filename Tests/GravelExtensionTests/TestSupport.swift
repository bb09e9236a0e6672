import Shared

@testable import GravelExtension

/// A stand-in for the gateway's store: groups of `GroupState` with the push API's
/// group operations, enough to compare "pushed straight" with "pushed through a batch".
struct ModelGateway {
    var groups: [LabelKey: GroupState] = [:]

    mutating func push(_ method: PushMethod, _ grouping: GroupingKey, _ body: String, nowMs: Int64) throws {
        switch method {
        case .delete:
            groups[grouping.key] = nil
        case .post, .put:
            let parsed = try ExpositionParser.parse(body, grouping: grouping)
            var state = method == .put ? GroupState() : (groups[grouping.key] ?? GroupState())
            for family in parsed.families { state.apply(family, nowMs: nowMs) }
            groups[grouping.key] = state
        }
    }

    /// A POST or PUT of a delimited protobuf body (what a batch with native histograms flushes).
    mutating func pushProtobuf(_ method: PushMethod, _ grouping: GroupingKey, _ body: [UInt8], nowMs: Int64) throws {
        let parsed = try body.withUnsafeBytes { raw in
            try Result { () throws(ExpositionError) in try ProtobufExposition.parse(raw, grouping: grouping) }.get()
        }
        var state = method == .put ? GroupState() : (groups[grouping.key] ?? GroupState())
        for family in parsed.families { state.apply(family, nowMs: nowMs) }
        groups[grouping.key] = state
    }

    /// Replays a batch the way the flusher sends it.
    mutating func flush(_ batch: Batch, nowMs: Int64) throws {
        for key in batch.flushOrder() {
            let group = batch.groups[key]!
            let request = group.request()
            if ProtobufExposition.matches(contentType: request.contentType) {
                try pushProtobuf(request.method, group.grouping, request.body, nowMs: nowMs)
            } else {
                try push(request.method, group.grouping, String(decoding: request.body, as: UTF8.self), nowMs: nowMs)
            }
        }
    }

    func render(nowMs: Int64) -> String {
        var out = ""
        for key in groups.keys.sorted() {
            var state = groups[key]!
            var writer = ExpositionWriter(format: .text)
            state.render(into: &writer, nowMs: nowMs)
            out += "== group \(key)\n" + String(decoding: writer.bytes, as: UTF8.self)
        }
        return out
    }
}

/// One push of a generated sequence.
struct Push: CustomStringConvertible {
    var method: PushMethod
    var grouping: GroupingKey
    var body: String

    var description: String { "\(method.rawValue) \(grouping.path)\n\(body)" }
}

enum Pushes {
    static let header =
        "# TYPE c_total counter\n# TYPE g gauge\n# TYPE h histogram\n# TYPE s summary\n# TYPE version gauge\n# TYPE p gauge\n"

    static func line(_ seed: Int) -> String {
        let v = seed % 50
        switch (seed / 50) % 12 {
        case 0: return "c_total{a=\"x\"} \(v)"
        case 1: return "c_total{a=\"y\"} \(v)"
        case 2: return "g{a=\"x\"} \(v)"
        case 3: return "g{a=\"x\",clearmode=\"aggregate\"} \(v)"
        case 4: return "h_bucket{le=\"1\"} \(v)\nh_bucket{le=\"+Inf\"} \(v + 2)\nh_sum \(v * 3)\nh_count \(v + 2)"
        case 5:
            return "h_bucket{le=\"0.5\"} \(v)\nh_bucket{le=\"2\"} \(v + 1)\nh_bucket{le=\"+Inf\"} \(v + 1)\nh_count \(v + 1)\nh_sum \(v)"
        case 6: return "s{quantile=\"0.9\"} \(v)\ns_sum \(v)\ns_count 1"
        case 7: return "version{version=\"\(v % 3)\",clearmode=\"family\"} 1"
        case 8: return "p{a=\"x\",clearmode=\"max5m\"} \(v)"
        case 9: return "p{a=\"y\",clearmode=\"mean5m\"} \(v)"
        case 10: return "c_total{a=\"x\",clearmode=\"replace\"} \(v)"
        default: return "version{version=\"\(v % 3)\"} \(v)"
        }
    }

    static let groupings = [
        GroupingKey(labels: [("job", "fn")]),
        GroupingKey(labels: [("job", "fn"), ("instance", "a")]),
        GroupingKey(labels: [("job", "other")]),
    ]

    /// `[method selector, group selector, line seeds...]` → a push.
    static func make(_ seeds: [Int]) -> Push {
        let selector = seeds.first ?? 0
        let method: PushMethod =
            switch selector % 10 {
            case 0: .put
            case 1: .delete
            default: .post
            }
        let grouping = groupings[(seeds.count > 1 ? seeds[1] : 0) % groupings.count]
        let lines = seeds.dropFirst(2).map(line)
        return Push(method: method, grouping: grouping, body: method == .delete ? "" : header + lines.map { $0 + "\n" }.joined())
    }

    static let start: [Push] = [
        Push(
            method: .post, grouping: groupings[0],
            body: header
                + "c_total{a=\"x\"} 100\ng{a=\"x\"} 7\nversion{version=\"9\",clearmode=\"family\"} 1\np{a=\"x\",clearmode=\"max5m\"} 40\n"),
        Push(method: .post, grouping: groupings[2], body: header + "c_total{a=\"y\"} 5\n"),
    ]
}

extension Batch {
    mutating func add(_ push: Push, nowMs: Int64) throws {
        let parsed = try ExpositionParser.parse(push.body, grouping: push.grouping)
        apply(parsed.families, to: push.grouping, method: push.method, nowMs: nowMs)
    }
}
