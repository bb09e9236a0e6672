import HTTPTypes
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
    let clock: @Sendable () -> Double
    /// `--basic-auth-file`: when set, pushes need credentials.
    var authenticator: Authenticator? = nil
    /// `--protect-scrape`: the scrape needs credentials too.
    var protectScrape = false
    /// With `--data-dir`: false until the log has been replayed (`/-/ready` answers 503).
    var isReady: @Sendable () -> Bool = { true }

    func respond(to request: Request, context: Context) async throws -> Response {
        let path = request.uri.path
        switch path {
        case "/-/healthy", "/-/ready":
            // Never behind auth: Kubernetes probes carry no credentials.
            guard request.method == .get || request.method == .head else { return methodNotAllowed("GET") }
            if path == "/-/ready", !isReady() { return text(.serviceUnavailable, "replaying the data directory's log") }
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
            case .delete: return await delete(request, context: context)
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
        let operation: WALRecord.Operation = method == .put ? .put : .post
        let claim: IdempotencyClaim?
        switch idempotencyClaim(request, operation, grouping, body) {
        case .success(let c): claim = c
        case .failure(let refusal): return reject(.badRequest, refusal.message, request, context)
        }
        let push: ParsedPush
        do {
            push = try PushBody.parse(
                body, contentEncoding: request.headers[.contentEncoding], contentType: request.headers[.contentType],
                grouping: grouping, limit: maxBodyBytes, limitName: "--max-body-bytes")
        } catch {
            return reject(HTTPResponse.Status(code: error.status), error.message, request, context)
        }
        let now = clock()
        var record: WALRecord? = nil
        if store.journal != nil {
            record = WALRecord(
                operation: operation, grouping: grouping, arrival: now, idempotencyKey: claim?.key,
                contentType: request.headers[.contentType], contentEncoding: request.headers[.contentEncoding], body: body)
        }
        do {
            let ticket = try store.push(push, to: grouping, method: method, now: now, claim: claim, record: record)
            try await ticket.wait()
        } catch let error as PushError {
            return reject(Self.status(of: error), error.message, request, context)
        } catch let error as DurabilityError {
            return reject(.serviceUnavailable, "the push could not be written to --data-dir and was not applied: \(error); retry later", request, context)
        }
        metrics.pushesAccepted.add(1, ordering: .relaxed)
        metrics.samplesReceived.add(push.sampleCount, ordering: .relaxed)
        context.logger.debug("push accepted", metadata: [
            "method": "\(request.method)", "group": "\(grouping)", "families": "\(push.families.count)",
        ])
        return Response(status: .ok)
    }

    func delete(_ request: Request, context: Context) async -> Response {
        let grouping: GroupingKey
        do {
            grouping = try GroupingKey(path: request.uri.path)
        } catch {
            return reject(.badRequest, error.message, request, context)
        }
        let claim: IdempotencyClaim?
        switch idempotencyClaim(request, .delete, grouping, ByteBuffer()) {
        case .success(let c): claim = c
        case .failure(let refusal): return reject(.badRequest, refusal.message, request, context)
        }
        let now = clock()
        let record = store.journal == nil ? nil : WALRecord(operation: .delete, grouping: grouping, arrival: now, idempotencyKey: claim?.key)
        do {
            let ticket = try store.delete(grouping, now: now, claim: claim, record: record)
            try await ticket.wait()
        } catch let error as PushError {
            return reject(Self.status(of: error), error.message, request, context)
        } catch {
            return reject(.serviceUnavailable, "the delete could not be written to --data-dir and was not applied: \(error); retry later", request, context)
        }
        metrics.deletes.add(1, ordering: .relaxed)
        context.logger.debug("group deleted", metadata: ["group": "\(grouping)"])
        return Response(status: .ok)
    }

    /// The `Idempotency-Key` header as a claim on this exact request; nil without the header.
    func idempotencyClaim(
        _ request: Request, _ operation: WALRecord.Operation, _ grouping: GroupingKey, _ body: ByteBuffer
    ) -> Result<IdempotencyClaim?, PushError> {
        guard let key = request.headers[Self.idempotencyKey] else { return .success(nil) }
        guard !key.isEmpty, key.utf8.count <= IdempotencyClaim.maximumKeyBytes else {
            return .failure(.badRequest(
                "Idempotency-Key must be 1 to \(IdempotencyClaim.maximumKeyBytes) bytes; this one has \(key.utf8.count)"))
        }
        return .success(IdempotencyClaim(
            key: key, operation: operation, grouping: grouping, contentType: request.headers[.contentType],
            contentEncoding: request.headers[.contentEncoding], body: body))
    }

    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!

    static func status(of error: PushError) -> HTTPResponse.Status {
        switch error.kind {
        case .badRequest: .badRequest
        case .tooManySeries: .unprocessableContent
        case .conflict: .conflict
        case .unavailable: .serviceUnavailable
        }
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
