import Hummingbird
import Shared
import Synchronization

/// Per-request metrics in the shape operators know from the Pushgateway: requests by
/// code, handler and method; durations and sizes as histograms by handler.
///
/// Every request touches a few relaxed atomics and nothing else: no lock, no allocation.
final class RequestMetrics: Sendable {
    /// What a request was for, as the `handler` label says it.
    enum Handler: Int, CaseIterable, Sendable {
        case push, delete, scrape, page, apiMetrics, apiStatus, adminWipe, healthy, ready, other

        var label: String {
            switch self {
            case .push: "push"
            case .delete: "delete"
            case .scrape: "metrics"
            case .page: "page"
            case .apiMetrics: "api/v1/metrics"
            case .apiStatus: "api/v1/status"
            case .adminWipe: "api/v1/admin/wipe"
            case .healthy: "healthy"
            case .ready: "ready"
            case .other: "other"
            }
        }

        /// The handler a request goes to, from its method and path alone.
        init(method: HTTPRequest.Method, path: String) {
            switch path {
            case "/metrics" where method == .get || method == .head: self = .scrape
            case "/": self = .page
            case "/api/v1/metrics": self = .apiMetrics
            case "/api/v1/status": self = .apiStatus
            case "/api/v1/admin/wipe": self = .adminWipe
            case "/-/healthy": self = .healthy
            case "/-/ready": self = .ready
            default:
                guard path == "/metrics" || path.hasPrefix("/metrics/") else {
                    self = .other
                    return
                }
                self = method == .delete ? .delete : .push
            }
        }
    }

    /// The `method` label, lower-case as client_golang's instrumentation writes it.
    enum Method: Int, CaseIterable, Sendable {
        case get, head, post, put, delete, options, other

        var label: String {
            switch self {
            case .get: "get"
            case .head: "head"
            case .post: "post"
            case .put: "put"
            case .delete: "delete"
            case .options: "options"
            case .other: "other"
            }
        }

        init(_ method: HTTPRequest.Method) {
            switch method {
            case .get: self = .get
            case .head: self = .head
            case .post: self = .post
            case .put: self = .put
            case .delete: self = .delete
            case .options: self = .options
            default: self = .other
            }
        }
    }

    /// Status codes 100 to 599, one slot each: any code the server answers has its own series.
    static let codeRange = 100..<600

    static let durationBounds: [Double] = [
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
    ]
    static let sizeBounds: [Double] = [64, 256, 1024, 4096, 16384, 65536, 262_144, 1_048_576, 4_194_304, 16_777_216]

    private let requests: AtomicCounters
    let durations: AtomicHistograms
    let requestSizes: AtomicHistograms
    let responseSizes: AtomicHistograms

    init() {
        requests = AtomicCounters(count: Handler.allCases.count * Method.allCases.count * Self.codeRange.count)
        durations = AtomicHistograms(rows: Handler.allCases.count, bounds: Self.durationBounds)
        requestSizes = AtomicHistograms(rows: Handler.allCases.count, bounds: Self.sizeBounds)
        responseSizes = AtomicHistograms(rows: Handler.allCases.count, bounds: Self.sizeBounds)
    }

    private static func slot(_ handler: Handler, _ method: Method, _ code: Int) -> Int {
        let codeSlot = codeRange.contains(code) ? code - codeRange.lowerBound : codeRange.count - 1
        return (handler.rawValue * Method.allCases.count + method.rawValue) * codeRange.count + codeSlot
    }

    /// Records one answered request. Sizes are nil when unknown (no Content-Length).
    func record(
        handler: Handler, method: Method, code: Int, seconds: Double, requestBytes: Int?, responseBytes: Int?
    ) {
        requests.add(Self.slot(handler, method, code))
        durations.observe(row: handler.rawValue, seconds)
        if let requestBytes { requestSizes.observe(row: handler.rawValue, Double(requestBytes)) }
        if let responseBytes { responseSizes.observe(row: handler.rawValue, Double(responseBytes)) }
    }

    func requestCount(handler: Handler, method: Method, code: Int) -> Int {
        requests.load(Self.slot(handler, method, code))
    }

    func render<W: ScrapeWriter>(into writer: inout W) {
        let name = "gravel_gateway_http_requests_total"
        let names = writer.names(family: name, type: .counter)
        var headerWritten = false
        for handler in Handler.allCases {
            for method in Method.allCases {
                for code in Self.codeRange {
                    let count = requestCount(handler: handler, method: method, code: code)
                    guard count > 0 else { continue }
                    if !headerWritten {
                        writer.writeHeader(
                            metadataName: names.metadata, type: .counter,
                            help: "HTTP requests answered, by status code, handler and method.")
                        headerWritten = true
                    }
                    let key = LabelKey(labels: [("code", String(code)), ("handler", handler.label), ("method", method.label)])
                    writer.writeSeries(name: names.sample, type: .counter, key: key, value: .scalar(Double(count)))
                }
            }
        }
        let labels = Handler.allCases.map { LabelKey(labels: [("handler", $0.label)]) }
        durations.render(
            into: &writer, name: "gravel_gateway_http_request_duration_seconds",
            help: "Time from a request's head to its response, by handler (pushes include reading and parsing the body).",
            keys: labels)
        requestSizes.render(
            into: &writer, name: "gravel_gateway_http_request_size_bytes",
            help: "Request body sizes as Content-Length announced them, by handler.", keys: labels)
        responseSizes.render(
            into: &writer, name: "gravel_gateway_http_response_size_bytes",
            help: "Response body sizes (after gzip), by handler.", keys: labels)
    }
}
