/// A request of the push API: the operation and the group it applies to.
public struct PushRoute: Sendable, Equatable {
    public var method: PushMethod
    public var grouping: GroupingKey

    public init(method: PushMethod, grouping: GroupingKey) {
        self.method = method
        self.grouping = grouping
    }

    /// The methods a push path answers, for `Allow` headers.
    public static let allowedMethods = "POST, PUT, DELETE"

    /// Whether `path` (without the query) is a push path: `/metrics` or below it.
    public static func isPushPath(_ path: some StringProtocol) -> Bool {
        path == "/metrics" || path.hasPrefix("/metrics/")
    }

    /// Parses a request's method and path (the query, if any, is ignored).
    ///
    /// - Parameters:
    ///   - defaultJob: the `job` of a push that names none (the extension's
    ///     `GRAVEL_JOB`); `nil` leaves such a group without a job label.
    ///   - utf8Names: path label names may be `U__`-escaped UTF-8 names.
    public init(method: String, path: String, defaultJob: String? = nil, utf8Names: Bool = false) throws(PushFailure) {
        let withoutQuery = path.firstIndex(of: "?").map { path[..<$0] } ?? Substring(path)
        guard Self.isPushPath(withoutQuery) else {
            throw PushFailure(.notFound, "not found: \(PushFailure.clip(String(withoutQuery))); push to /metrics/job/<job>")
        }
        guard let parsed = PushMethod(rawValue: method) else {
            throw PushFailure(
                .methodNotAllowed, "method \(PushFailure.clip(method)) not allowed on a push path; use \(Self.allowedMethods)")
        }
        do {
            grouping = try GroupingKey(path: String(withoutQuery), defaultJob: defaultJob, utf8Names: utf8Names)
        } catch {
            throw PushFailure(.badPath, error.message)
        }
        self.method = parsed
    }
}
