import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Shared

extension GatewayResponder {
    /// What the page and the JSON API need beyond the store.
    struct WebSettings: Sendable {
        /// `--web.enable-admin-api`: `PUT /api/v1/admin/wipe` and the page's delete buttons.
        var adminAPI = false
        /// The command line's options as `GET /api/v1/status` reports them.
        var flags: [(String, String)] = []
        /// When the gateway started, in seconds since the epoch.
        var startTime = 0.0
    }

    /// Headers the Pushgateway sends on its API, so browser scripts on other origins can read it.
    static let apiHeaders: HTTPFields = [
        HTTPField.Name("Access-Control-Allow-Headers")!: "Accept, Authorization, Content-Type, Origin",
        HTTPField.Name("Access-Control-Allow-Methods")!: "GET, OPTIONS",
        HTTPField.Name("Access-Control-Allow-Origin")!: "*",
        HTTPField.Name("Access-Control-Expose-Headers")!: "Date",
        .cacheControl: "no-cache, no-store, must-revalidate",
    ]

    /// `/`, `/api/v1/metrics`, `/api/v1/status` and `/api/v1/admin/wipe`.
    ///
    /// Reading follows the scrape's protection (`--protect-scrape`); wiping is a write and
    /// needs credentials whenever pushes do.
    func respondWeb(_ request: Request, context: Context) async -> Response {
        let path = request.uri.path
        if path == "/api/v1/admin/wipe" {
            guard webSettings.adminAPI else {
                return text(.notFound, "not found: /api/v1/admin/wipe is off; start the gateway with --web.enable-admin-api")
            }
            guard request.method == .put else { return methodNotAllowed("PUT") }
            if let denied = await authenticate(request, context) { return denied }
            let removed = store.wipe()
            context.logger.notice("all groups wiped", metadata: ["groups": "\(removed)"])
            return Response(status: .accepted)
        }
        if request.method == .options, path.hasPrefix("/api/v1/") {
            return Response(status: .ok, headers: Self.apiHeaders)
        }
        guard request.method == .get || request.method == .head else { return methodNotAllowed("GET") }
        if protectScrape, let denied = await authenticate(request, context) { return denied }
        switch path {
        case "/api/v1/metrics":
            return body(PushgatewayAPI.metrics(store.snapshot(), now: clock()), "application/json", request, api: true)
        case "/api/v1/status":
            let status = PushgatewayAPI.status(
                flags: webSettings.flags, startTime: webSettings.startTime, version: metrics.version)
            return body(status, "application/json", request, api: true)
        default:
            let page = StatusPage(
                snapshot: store.snapshot(), query: StatusPage.Query(queryString: request.uri.query), now: clock(),
                seriesTotal: store.seriesCount, adminAPI: webSettings.adminAPI, version: metrics.version)
            return body(page.render(), "text/html; charset=utf-8", request, api: false)
        }
    }

    private func body(_ bytes: [UInt8], _ contentType: String, _ request: Request, api: Bool) -> Response {
        var buffer = ByteBuffer(bytes: bytes)
        var headers: HTTPFields = api ? Self.apiHeaders : [.cacheControl: "no-cache"]
        headers[.contentType] = contentType
        if Gzip.accepts(request.headers[.acceptEncoding]) {
            buffer = Gzip.compress(buffer)
            headers[.contentEncoding] = "gzip"
        }
        headers[.contentLength] = String(buffer.readableBytes)
        if request.method == .head { return Response(status: .ok, headers: headers) }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: buffer))
    }
}
