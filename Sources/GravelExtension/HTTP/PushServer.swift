import Logging
import NIOCore
import NIOHTTP1
import Shared

/// The local push API on `GRAVEL_LISTEN`: the gateway's push routes, answered as soon as
/// the body is parsed and merged into the batch.
package struct PushServer: Sendable {
    package let store: BatchStore
    package let defaultJob: String
    package let maxBodyBytes: Int
    package let clock: Clock
    package let logger: Logger

    package init(store: BatchStore, defaultJob: String, maxBodyBytes: Int, clock: Clock, logger: Logger) {
        self.store = store
        self.defaultJob = defaultJob
        self.maxBodyBytes = maxBodyBytes
        self.clock = clock
        self.logger = logger
    }

    package func respond(to request: HTTPRequest) -> HTTPResponse {
        let path = request.path
        switch path {
        case "/-/healthy", "/-/ready":
            guard request.method == .GET || request.method == .HEAD else { return methodNotAllowed("GET") }
            return HTTPResponse(status: .ok, body: "OK\n")
        default:
            guard path == "/metrics" || path.hasPrefix("/metrics/") else {
                return HTTPResponse(status: .notFound, body: "not found: \(path); push to /metrics or /metrics/job/<job>\n")
            }
            switch request.method {
            case .POST: return push(request, method: .post)
            case .PUT: return push(request, method: .put)
            case .DELETE: return delete(request)
            default: return methodNotAllowed("POST, PUT, DELETE")
            }
        }
    }

    func push(_ request: HTTPRequest, method: PushMethod) -> HTTPResponse {
        let grouping: GroupingKey
        do {
            grouping = try GroupingKey(path: request.path, defaultJob: defaultJob)
        } catch {
            return reject(400, error.message, request)
        }
        let push: ParsedPush
        do {
            push = try PushBody.parse(
                request.body, contentEncoding: request.headers.first(name: "Content-Encoding"),
                contentType: request.headers.first(name: "Content-Type"), grouping: grouping,
                limit: maxBodyBytes, limitName: "GRAVEL_MAX_BODY_BYTES")
        } catch {
            return reject(error.status, error.message, request)
        }
        do {
            try store.push(push, to: grouping, method: method, arrivalMs: clock.wallMs())
        } catch {
            return reject(error.status, error.message, request)
        }
        logger.trace("push merged", metadata: ["method": "\(method.rawValue)", "group": "\(grouping)", "families": "\(push.families.count)"])
        return HTTPResponse(status: .ok)
    }

    func delete(_ request: HTTPRequest) -> HTTPResponse {
        do {
            store.delete(try GroupingKey(path: request.path, defaultJob: defaultJob))
        } catch {
            return reject(400, error.message, request)
        }
        return HTTPResponse(status: .ok)
    }

    func reject(_ status: Int, _ message: String, _ request: HTTPRequest) -> HTTPResponse {
        logger.info("push rejected", metadata: ["status": "\(status)", "path": "\(request.path)", "reason": "\(message)"])
        return HTTPResponse(status: HTTPResponseStatus(statusCode: status), body: message + "\n")
    }

    func methodNotAllowed(_ allowed: String) -> HTTPResponse {
        HTTPResponse(status: .methodNotAllowed, body: "method not allowed; use \(allowed)\n", headers: [("Allow", allowed)])
    }
}
