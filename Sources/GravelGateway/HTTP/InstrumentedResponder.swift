import Hummingbird
import Shared
import Synchronization

/// Wraps the gateway's responder to count every request by code, handler and method, and
/// to time it and measure its response, without the wrapped responder knowing.
struct InstrumentedResponder<Wrapped: HTTPResponder>: HTTPResponder {
    typealias Context = Wrapped.Context

    let wrapped: Wrapped
    let metrics: RequestMetrics

    func respond(to request: Request, context: Context) async throws -> Response {
        let start = ContinuousClock.now
        let handler = RequestMetrics.Handler(method: request.method, path: request.uri.path)
        let method = RequestMetrics.Method(request.method)
        let requestBytes = request.headers[.contentLength].flatMap { Int($0) }
        var response: Response
        do {
            response = try await wrapped.respond(to: request, context: context)
        } catch {
            // Hummingbird answers a thrown error with its status, or 500 for any other error.
            let code = (error as? any HTTPResponseError)?.status.code ?? 500
            metrics.record(
                handler: handler, method: method, code: code, seconds: start.duration(to: .now).seconds,
                requestBytes: requestBytes, responseBytes: nil)
            throw error
        }
        let code = response.status.code
        if let length = response.body.contentLength {
            // A body of known length (every answer but the scrape) is ready: record now and
            // leave the response as it is, so a push costs the instrumentation no allocation.
            metrics.record(
                handler: handler, method: method, code: code, seconds: start.duration(to: .now).seconds,
                requestBytes: requestBytes, responseBytes: length)
            return response
        }
        // A scrape streams its body after this returns: time and count it once it is written,
        // so the duration covers the rendering and the size is what went out (after gzip).
        let metrics = self.metrics
        let body = response.body
        response.body = ResponseBody { writer in
            let written = WrittenBytes()
            defer {
                metrics.record(
                    handler: handler, method: method, code: code, seconds: start.duration(to: .now).seconds,
                    requestBytes: requestBytes, responseBytes: written.count.load(ordering: .relaxed))
            }
            try await body.write(
                writer.map { buffer in
                    written.count.add(buffer.readableBytes, ordering: .relaxed)
                    return buffer
                })
        }
        return response
    }
}

/// The bytes of one response body, counted as its pieces are written.
private final class WrittenBytes: Sendable {
    let count = Atomic<Int>(0)
}
