import Logging
import NIOCore
import NIOHTTP1
import Shared

/// The local push API on `GRAVEL_LISTEN`: the gateway's push routes, answered as soon as
/// the body is parsed, checked with the gateway's rules and merged into the batch.
package struct PushServer: Sendable {
    package let store: BatchStore
    package let defaultJob: String
    package let maxBodyBytes: Int
    package let clock: SandboxClock
    package let logger: Logger
    /// `GRAVEL_UTF8_NAMES`: names may be UTF-8, as with the gateway's `--push.enable-utf8-names`.
    package let utf8Names: Bool

    package init(
        store: BatchStore, defaultJob: String, maxBodyBytes: Int, clock: SandboxClock, logger: Logger, utf8Names: Bool = false
    ) {
        self.utf8Names = utf8Names
        self.store = store
        self.defaultJob = defaultJob
        self.maxBodyBytes = maxBodyBytes
        self.clock = clock
        self.logger = logger
    }

    /// The gateway's default bounds on a push's series, with UTF-8 names as configured.
    var limits: ParseLimits {
        var limits = ParseLimits()
        limits.utf8Names = utf8Names
        return limits
    }

    package func respond(to request: LocalRequest) -> LocalResponse {
        let path = request.path
        if path == "/-/healthy" || path == "/-/ready" {
            guard request.method == .GET || request.method == .HEAD else {
                return LocalResponse(status: .methodNotAllowed, body: "method not allowed; use GET\n", headers: [("Allow", "GET")])
            }
            return LocalResponse(status: .ok, body: "OK\n")
        }
        do throws(PushFailure) {
            let route = try PushRoute(method: request.method.rawValue, path: path, defaultJob: defaultJob, utf8Names: utf8Names)
            switch route.method {
            case .post, .put:
                let push = try PushBody.parse(
                    request.body, contentEncoding: request.headers.first(name: "Content-Encoding"),
                    contentType: request.headers.first(name: "Content-Type"), grouping: route.grouping,
                    limit: maxBodyBytes, limitName: "GRAVEL_MAX_BODY_BYTES", limits: limits)
                try store.push(push, to: route.grouping, method: route.method, arrivalMs: clock.wallMs())
                logger.trace(
                    "push merged",
                    metadata: [
                        "method": "\(route.method.rawValue)", "group": "\(route.grouping.displayName)",
                        "families": "\(push.families.count)",
                    ])
                return LocalResponse(status: .ok)
            case .delete:
                store.delete(route.grouping)
                return LocalResponse(status: .accepted)
            }
        } catch {
            return refuse(error, request)
        }
    }

    func refuse(_ failure: PushFailure, _ request: LocalRequest) -> LocalResponse {
        let status = HTTPResponseStatus(statusCode: PushFailure.httpStatus(of: failure.code))
        logger.info(
            "push refused",
            metadata: [
                "status": "\(status.code)", "code": "\(failure.code.rawValue)", "path": "\(PushFailure.clip(request.path))",
                "reason": "\(failure.message)",
            ])
        let headers = failure.code == .methodNotAllowed ? [("Allow", PushRoute.allowedMethods)] : []
        return LocalResponse(status: status, body: failure.message + "\n", headers: headers)
    }

}
