import Hummingbird

/// Wraps the gateway's responder to count every request by code, handler and method and
/// to time it, without the wrapped responder knowing.
struct InstrumentedResponder<Wrapped: HTTPResponder>: HTTPResponder where Wrapped.Context == BasicRequestContext {
    typealias Context = BasicRequestContext

    let wrapped: Wrapped
    let metrics: RequestMetrics

    func respond(to request: Request, context: Context) async throws -> Response {
        let start = ContinuousClock.now
        let handler = RequestMetrics.Handler(method: request.method, path: request.uri.path)
        let method = RequestMetrics.Method(request.method)
        let requestBytes = request.headers[.contentLength].flatMap { Int($0) }
        do {
            let response = try await wrapped.respond(to: request, context: context)
            metrics.record(
                handler: handler, method: method, code: response.status.code, seconds: Self.seconds(since: start),
                requestBytes: requestBytes,
                responseBytes: response.body.contentLength ?? response.headers[.contentLength].flatMap { Int($0) })
            return response
        } catch {
            // Hummingbird answers a thrown error with its status, or 500 for any other error.
            let code = (error as? any HTTPResponseError)?.status.code ?? 500
            metrics.record(
                handler: handler, method: method, code: code, seconds: Self.seconds(since: start),
                requestBytes: requestBytes, responseBytes: nil)
            throw error
        }
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = (ContinuousClock.now - start).components
        return Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
    }
}
