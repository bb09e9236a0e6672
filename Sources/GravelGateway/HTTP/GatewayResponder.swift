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
    typealias Context = GatewayRequestContext

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
    /// `--enable-openmetrics`: serve OpenMetrics to scrapers that prefer it.
    var openMetrics = false
    /// The page at `/` and the Pushgateway's JSON API.
    var webSettings = WebSettings()
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
        case "/", "/api/v1/metrics", "/api/v1/status", "/api/v1/admin/wipe":
            return await respondWeb(request, context: context)
        default:
            // Before the body is read: an unauthenticated client gets nothing parsed.
            if PushRoute.isPushPath(path), let denied = await authenticate(request, context) { return denied }
            let route: PushRoute
            do {
                route = try PushRoute(method: request.method.rawValue, path: path, utf8Names: parseLimits.utf8Names)
            } catch {
                return refuse(error, request, context)
            }
            switch route.method {
            case .post, .put: return try await push(request, route, context: context)
            case .delete: return await delete(request, route, context: context)
            }
        }
    }

    // MARK: - Push

    func push(_ request: Request, _ route: PushRoute, context: Context) async throws -> Response {
        var body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: maxBodyBytes)
        } catch let error where error is NIOTooManyBytesError || (error as? HTTPError)?.status == .contentTooLarge {
            // collect(upTo:) throws the first when the body streams past the limit, the
            // second when Content-Length announces it.
            return refuse(
                PushFailure(.bodyTooLarge, "the body is larger than \(maxBodyBytes) bytes (--max-body-bytes)"), request, context,
                group: route.grouping)
        }
        metrics.bytesReceived.add(body.readableBytes, ordering: .relaxed)
        let operation: WALRecord.Operation = route.method == .put ? .put : .post
        do throws(PushFailure) {
            let claim = try idempotencyClaim(request, operation, route.grouping, body)
            let push = try PushBody.parse(
                body, contentEncoding: request.headers[.contentEncoding], contentType: request.headers[.contentType],
                grouping: route.grouping, limit: maxBodyBytes, limitName: "--max-body-bytes", limits: parseLimits)
            let now = clock()
            var record: WALRecord? = nil
            if store.journal != nil {
                record = WALRecord(
                    operation: operation, grouping: route.grouping, arrival: now, idempotencyKey: claim?.key,
                    contentType: request.headers[.contentType], contentEncoding: request.headers[.contentEncoding], body: body)
            }
            try await durable(store.push(push, to: route.grouping, method: route.method, now: now, claim: claim, record: record))
            metrics.pushesAccepted.add(1, ordering: .relaxed)
            metrics.samplesReceived.add(push.sampleCount, ordering: .relaxed)
            context.logger.debug(
                "push accepted",
                metadata: [
                    "method": "\(route.method.rawValue)", "group": "\(route.grouping.displayName)", "families": "\(push.families.count)",
                ])
            return Response(status: .ok)
        } catch {
            return refuse(error, request, context, group: route.grouping)
        }
    }

    func delete(_ request: Request, _ route: PushRoute, context: Context) async -> Response {
        do throws(PushFailure) {
            let claim = try idempotencyClaim(request, .delete, route.grouping, ByteBuffer())
            let now = clock()
            let record =
                store.journal == nil
                ? nil : WALRecord(operation: .delete, grouping: route.grouping, arrival: now, idempotencyKey: claim?.key)
            try await durable(store.delete(route.grouping, now: now, claim: claim, record: record))
        } catch {
            return refuse(error, request, context)
        }
        metrics.deletes.add(1, ordering: .relaxed)
        context.logger.debug("group deleted", metadata: ["group": "\(route.grouping.displayName)"])
        // 202 as the Pushgateway: Go's client_golang treats anything else as a failed Delete().
        return Response(status: .accepted)
    }

    /// Waits until a change is on disk (at once without `--data-dir`).
    func durable(_ ticket: DurabilityTicket) async throws(PushFailure) {
        // In memory every change gets this shared ticket: no lock taken on the hot path.
        if ticket === DurabilityTicket.durable { return }
        do throws(DurabilityError) {
            try await ticket.wait()
        } catch {
            throw PushFailure(.unavailable, "the change could not be written to --data-dir and was not applied (\(error)); retry later")
        }
    }

    /// The `Idempotency-Key` header as a claim on this exact request; nil without the header.
    func idempotencyClaim(
        _ request: Request, _ operation: WALRecord.Operation, _ grouping: GroupingKey, _ body: ByteBuffer
    ) throws(PushFailure) -> IdempotencyClaim? {
        guard let key = request.headers[Self.idempotencyKey] else { return nil }
        guard !key.isEmpty, key.utf8.count <= IdempotencyClaim.maximumKeyBytes else {
            throw PushFailure(
                .badBody, "Idempotency-Key must be 1 to \(IdempotencyClaim.maximumKeyBytes) bytes; this one has \(key.utf8.count)")
        }
        return IdempotencyClaim(
            key: key, operation: operation, grouping: grouping, contentType: request.headers[.contentType],
            contentEncoding: request.headers[.contentEncoding], body: body)
    }

    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!

    // MARK: - Scrape

    /// Streams the exposition of a consistent snapshot: rendered in chunks of about
    /// ``scrapeChunkBytes`` into one reused buffer, gzipped chunk by chunk when the scraper
    /// accepts it, so concurrent scrapes of a large store add little memory.
    func scrape(_ request: Request) -> Response {
        metrics.scrapes.add(1, ordering: .relaxed)
        let format: ExpositionFormat = openMetrics && Self.prefersOpenMetrics(request.headers[.accept]) ? .openMetrics : .text
        let gzip = Gzip.accepts(request.headers[.acceptEncoding])
        let snapshot = store.snapshot()
        // Native histograms exist only in protobuf; without them the text formats say it all.
        let protobuf = Self.prefersProtobuf(request.headers[.accept], openMetrics: openMetrics) && snapshot.holdsNativeHistograms
        // With UTF-8 names on, names are written as the scraper asks (quoted, or escaped for
        // a scraper that knows only the legacy names); off, every stored name is a legacy one.
        let escaping: NameEscaping? =
            parseLimits.utf8Names
            ? HeaderList.escaping(for: Self.mediaTypes(protobuf: protobuf, format), in: request.headers[.accept]) : nil
        var protobufType = ProtobufWriter(capacity: 0)
        protobufType.nameEscaping = escaping
        var textType = ExpositionWriter(format: format, capacity: 0)
        textType.nameEscaping = escaping
        var headers: HTTPFields = [.contentType: protobuf ? protobufType.contentType : textType.contentType]
        if gzip { headers[.contentEncoding] = "gzip" }
        if request.method == .head { return Response(status: .ok, headers: headers) }
        let seriesCount = store.seriesCount
        let stale = store.staleObservations.load(ordering: .relaxed)
        let now = clock()
        let metrics = self.metrics
        let body = ResponseBody { writer in
            // Generic over the writer, so each format's loop is specialized (no dynamic dispatch per series).
            func stream<W: ScrapeWriter>(_ out: W) async throws {
                var out = out
                var cursor = ScrapeCursor(snapshot, now: now)
                out.addsEmptyInstance = true
                let stream = gzip ? Gzip.Stream() : nil
                var more = true
                while more {
                    more = cursor.render(into: &out, atLeast: Self.scrapeChunkBytes)
                    if !more {
                        // The gateway's own metrics are the node's, not a group's: Prometheus
                        // attaches the scraped node's instance to them.
                        out.addsEmptyInstance = false
                        metrics.render(
                            into: &out, series: seriesCount, groups: snapshot.groups.count, staleObservations: stale,
                            pushedFamily: { cursor.holdsFamily(named: $0) })
                        out.finish()
                    }
                    var chunk = ByteBuffer(bytes: out.takeBytes())
                    if let stream { chunk = stream.compress(chunk, last: !more) }
                    if chunk.readableBytes > 0 { try await writer.write(chunk) }
                }
            }
            if protobuf {
                var out = ProtobufWriter(capacity: Self.scrapeChunkBytes + 4096)
                out.nameEscaping = escaping
                try await stream(out)
            } else {
                var out = ExpositionWriter(format: format, capacity: Self.scrapeChunkBytes + 4096)
                out.nameEscaping = escaping
                try await stream(out)
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }

    /// The media types of the format a scrape gets, whose Accept entries name its escaping.
    static func mediaTypes(protobuf: Bool, _ format: ExpositionFormat) -> Set<String> {
        if protobuf { return [ProtobufWriter.mediaType] }
        switch format {
        case .text: return ["text/plain"]
        case .openMetrics: return ["application/openmetrics-text"]
        }
    }

    /// The size of each piece of a streamed scrape.
    static let scrapeChunkBytes = 256 * 1024

    /// Whether the Accept header weighs OpenMetrics above the text format (with
    /// `--enable-openmetrics`; without it the gateway serves text 0.0.4, as the Pushgateway,
    /// so that counters keep the names they were pushed with).
    static func prefersOpenMetrics(_ accept: String?) -> Bool {
        guard let openMetrics = HeaderList.quality(of: ["application/openmetrics-text"], in: accept), openMetrics > 0 else {
            return false
        }
        let text = HeaderList.quality(of: ["text/plain", "text/*", "*/*"], in: accept) ?? 0
        return openMetrics >= text
    }

    // MARK: - Auth

    /// `nil` when the request may go on, else the response that refuses it.
    func authenticate(_ request: Request, _ context: Context) async -> Response? {
        guard let authenticator else { return nil }
        let verdict = await authenticator.check(request.headers[.authorization], client: context.clientAddress)
        switch verdict {
        case .granted:
            return nil
        case .missing, .refused:
            metrics.authFailures.add(1, ordering: .relaxed)
            context.logger.debug("unauthorized", metadata: ["path": "\(PushFailure.clip(request.uri.path))", "verdict": "\(verdict)"])
            var response = text(
                .unauthorized,
                verdict == .missing
                    ? "credentials required: send Authorization: Basic base64(user:password) (curl -u user:password); the user name is ignored"
                    : "wrong credentials: the password matches no hash of --basic-auth-file")
            response.headers[.wwwAuthenticate] = #"Basic realm="gravel""#
            return response
        case .busy:
            context.logger.debug("credential check refused: too many running", metadata: ["path": "\(PushFailure.clip(request.uri.path))"])
            var response = text(
                .tooManyRequests,
                "too many new credentials are being checked at once; retry in a second (verified credentials are cached and never wait)")
            response.headers[.retryAfter] = "1"
            return response
        }
    }

    // MARK: - Responses

    /// Answers a refused push, and notes the refusal on its group (`push_failure_time_seconds`).
    func refuse(_ failure: PushFailure, _ request: Request, _ context: Context, group: GroupingKey? = nil) -> Response {
        let status = Self.status(of: failure.code)
        if failure.code == .methodNotAllowed {
            var response = text(status, failure.message)
            response.headers[.allow] = PushRoute.allowedMethods
            return response
        }
        metrics.pushesRejected.add(1, ordering: .relaxed)
        // A reused Idempotency-Key or a change that could not be logged changes nothing, not even the failure time.
        if let group, failure.code != .idempotencyKeyReused, failure.code != .unavailable { store.recordFailure(group, now: clock()) }
        context.logger.info(
            "push refused",
            metadata: [
                "status": "\(status.code)", "code": "\(failure.code.rawValue)", "path": "\(PushFailure.clip(request.uri.path))",
                "reason": "\(failure.message)",
            ])
        return text(status, failure.message)
    }

    /// The gateway's answer to each refusal (the extension's too).
    static func status(of code: PushFailure.Code) -> HTTPResponse.Status {
        HTTPResponse.Status(code: PushFailure.httpStatus(of: code))
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
