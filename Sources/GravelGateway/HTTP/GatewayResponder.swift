import Hummingbird
import Logging
import NIOCore
import Shared
import Synchronization

/// Routes and answers every request of the gateway.
///
/// A hand-written responder instead of a router: there are five routes, and the push
/// routes take any number of path segments.
struct GatewayResponder: HTTPResponder {
    typealias Context = BasicRequestContext

    let store: MetricStore
    let metrics: GatewayMetrics
    let maxBodyBytes: Int
    /// Bounds on the series of one push (`--max-labels-per-series` and the like).
    var parseLimits = ParseLimits()
    let clock: @Sendable () -> Double
    /// `--basic-auth-file`: when set, pushes need credentials.
    var authenticator: Authenticator? = nil
    /// `--protect-scrape`: the scrape needs credentials too.
    var protectScrape = false

    func respond(to request: Request, context: Context) async throws -> Response {
        let path = request.uri.path
        switch path {
        case "/-/healthy", "/-/ready":
            // Never behind auth: Kubernetes probes carry no credentials.
            guard request.method == .get || request.method == .head else { return methodNotAllowed("GET") }
            return text(.ok, "OK")
        case "/metrics" where request.method == .get || request.method == .head:
            if protectScrape, let denied = await authenticate(request, context) { return denied }
            return scrape(request)
        default:
            guard path == "/metrics" || path.hasPrefix("/metrics/") else {
                return text(.notFound, "not found: \(path); push to /metrics/job/<job>, scrape GET /metrics")
            }
            // Before the body is read: an unauthenticated client gets nothing parsed.
            if let denied = await authenticate(request, context) { return denied }
            switch request.method {
            case .post: return try await push(request, context: context, method: .post)
            case .put: return try await push(request, context: context, method: .put)
            case .delete: return delete(request, context: context)
            default: return methodNotAllowed("POST, PUT, DELETE")
            }
        }
    }

    // MARK: - Push

    func push(_ request: Request, context: Context, method: MetricStore.Method) async throws -> Response {
        let grouping: GroupingKey
        do {
            grouping = try GroupingKey(path: request.uri.path)
        } catch {
            return reject(.badRequest, error.message, request, context)
        }
        var body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: maxBodyBytes)
        } catch let error where error is NIOTooManyBytesError || (error as? HTTPError)?.status == .contentTooLarge {
            // collect(upTo:) throws the first when the body streams past the limit, the
            // second when Content-Length announces it.
            return reject(.contentTooLarge, "the body is larger than \(maxBodyBytes) bytes (--max-body-bytes)", request, context)
        }
        metrics.bytesReceived.add(body.readableBytes, ordering: .relaxed)
        let push: ParsedPush
        do {
            push = try PushBody.parse(
                body, contentEncoding: request.headers[.contentEncoding], contentType: request.headers[.contentType],
                grouping: grouping, limit: maxBodyBytes, limitName: "--max-body-bytes", limits: parseLimits)
        } catch {
            return reject(HTTPResponse.Status(code: error.status), error.message, request, context)
        }
        do {
            try store.push(push, to: grouping, method: method, now: clock())
        } catch {
            let status: HTTPResponse.Status = error.kind == .badRequest ? .badRequest : .unprocessableContent
            return reject(status, error.message, request, context)
        }
        metrics.pushesAccepted.add(1, ordering: .relaxed)
        metrics.samplesReceived.add(push.sampleCount, ordering: .relaxed)
        context.logger.debug("push accepted", metadata: [
            "method": "\(request.method)", "group": "\(grouping)", "families": "\(push.families.count)",
        ])
        return Response(status: .ok)
    }

    func delete(_ request: Request, context: Context) -> Response {
        let grouping: GroupingKey
        do {
            grouping = try GroupingKey(path: request.uri.path)
        } catch {
            return reject(.badRequest, error.message, request, context)
        }
        store.delete(grouping)
        metrics.deletes.add(1, ordering: .relaxed)
        context.logger.debug("group deleted", metadata: ["group": "\(grouping)"])
        return Response(status: .ok)
    }

    // MARK: - Scrape

    func scrape(_ request: Request) -> Response {
        metrics.scrapes.add(1, ordering: .relaxed)
        let format: ExpositionFormat = Self.wantsOpenMetrics(request.headers[.accept]) ? .openMetrics : .text
        let snapshot = store.snapshot()
        var writer = ExpositionWriter(format: format, capacity: 1 << 16)
        snapshot.render(into: &writer, now: clock())
        metrics.render(
            into: &writer, series: store.seriesCount, groups: snapshot.groups.count,
            staleObservations: store.staleObservations.load(ordering: .relaxed))
        writer.finish()
        var body = ByteBuffer(bytes: writer.bytes)
        var headers: HTTPFields = [.contentType: writer.contentType]
        if Gzip.accepts(request.headers[.acceptEncoding]) {
            body = Gzip.compress(body)
            headers[.contentEncoding] = "gzip"
        }
        headers[.contentLength] = String(body.readableBytes)
        if request.method == .head { return Response(status: .ok, headers: headers) }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
    }

    /// OpenMetrics when the Accept header lists `application/openmetrics-text` with a non-zero q.
    static func wantsOpenMetrics(_ accept: String?) -> Bool {
        HeaderList.allows(accept, anyOf: ["application/openmetrics-text"])
    }

    // MARK: - Auth

    /// `nil` when the request may go on, else the response that refuses it.
    func authenticate(_ request: Request, _ context: Context) async -> Response? {
        guard let authenticator else { return nil }
        let verdict = await authenticator.check(request.headers[.authorization])
        switch verdict {
        case .granted:
            return nil
        case .missing, .refused:
            metrics.authFailures.add(1, ordering: .relaxed)
            context.logger.debug("unauthorized", metadata: ["path": "\(request.uri.path)", "verdict": "\(verdict)"])
            var response = text(
                .unauthorized,
                verdict == .missing
                    ? "credentials required: send Authorization: Basic base64(user:password) (curl -u user:password); the user name is ignored"
                    : "wrong credentials: the password matches no hash of --basic-auth-file")
            response.headers[.wwwAuthenticate] = #"Basic realm="gravel""#
            return response
        case .busy:
            context.logger.debug("credential check refused: too many running", metadata: ["path": "\(request.uri.path)"])
            var response = text(
                .tooManyRequests,
                "too many new credentials are being checked at once; retry in a second (verified credentials are cached and never wait)")
            response.headers[.retryAfter] = "1"
            return response
        }
    }

    // MARK: - Responses

    func reject(_ status: HTTPResponse.Status, _ message: String, _ request: Request, _ context: Context) -> Response {
        metrics.pushesRejected.add(1, ordering: .relaxed)
        context.logger.info("push rejected", metadata: [
            "status": "\(status.code)", "path": "\(request.uri.path)", "reason": "\(message)",
        ])
        return text(status, message)
    }

    func methodNotAllowed(_ allowed: String) -> Response {
        var response = text(.methodNotAllowed, "method not allowed; use \(allowed)")
        response.headers[.allow] = allowed
        return response
    }

    func text(_ status: HTTPResponse.Status, _ message: String) -> Response {
        Response(
            status: status,
            headers: [.contentType: "text/plain; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: message + "\n")))
    }
}
