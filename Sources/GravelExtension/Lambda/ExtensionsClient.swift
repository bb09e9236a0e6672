import Logging

/// The Lambda Extensions API and the Telemetry API subscription, over libcurl.
///
/// Used from the lifecycle thread only: `/event/next` blocks it until Lambda has an event.
package final class ExtensionsClient {
    private let base: String
    private let curl: CurlEasy
    private let logger: Logger
    /// `Lambda-Extension-Identifier`, sent on every call after registration.
    package private(set) var identifier: String?

    package init(runtimeAPI: String, logger: Logger) {
        self.base = "http://\(runtimeAPI)"
        self.curl = CurlEasy(security: CurlSecurity(useEnvironmentProxy: false))
        self.logger = logger
    }

    private var identifierHeader: [String] {
        identifier.map { ["Lambda-Extension-Identifier: \($0)"] } ?? []
    }

    /// `POST /2020-01-01/extension/register` for INVOKE and SHUTDOWN; returns the account
    /// id, which Lambda gives to extensions that accept the `accountId` feature.
    @discardableResult
    package func register(name: String) throws(LambdaAPIError) -> String? {
        let response = try call(
            HTTPClientRequest(
                method: "POST", url: base + "/2020-01-01/extension/register",
                headers: [
                    "Lambda-Extension-Name: \(name)", "Lambda-Extension-Accept-Feature: accountId", "Content-Type: application/json",
                ],
                body: Array(#"{"events":["INVOKE","SHUTDOWN"]}"#.utf8), timeoutMs: 10_000))
        guard response.status == 200 else {
            throw LambdaAPIError("register answered \(response.status): \(response.text)")
        }
        guard let id = response.header("Lambda-Extension-Identifier"), !id.isEmpty else {
            throw LambdaAPIError("register answered without a Lambda-Extension-Identifier header")
        }
        identifier = id
        return (try? JSONValue.parse(response.body))?["accountId"]?.string.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// `PUT /2022-07-01/telemetry`: platform events, buffered 25 ms, to our listener.
    package func subscribeTelemetry(destination: String) throws(LambdaAPIError) {
        let body =
            #"{"schemaVersion":"2022-12-13","types":["platform"],"#
            + #""buffering":{"maxItems":1000,"maxBytes":262144,"timeoutMs":25},"#
            + #""destination":{"protocol":"HTTP","URI":"# + JSONText.quoted(destination) + "}}"
        let response = try call(
            HTTPClientRequest(
                method: "PUT", url: base + "/2022-07-01/telemetry",
                headers: identifierHeader + ["Content-Type: application/json"],
                body: Array(body.utf8), timeoutMs: 10_000))
        guard response.status == 200 else {
            throw LambdaAPIError("telemetry subscription answered \(response.status): \(response.text)")
        }
    }

    /// `GET /2020-01-01/extension/event/next`, blocking with no timeout.
    package func next() throws(LambdaAPIError) -> LambdaEvent {
        let response = try call(
            HTTPClientRequest(
                method: "GET", url: base + "/2020-01-01/extension/event/next", headers: identifierHeader, timeoutMs: 0))
        guard response.status == 200 else {
            throw LambdaAPIError("event/next answered \(response.status): \(response.text)")
        }
        return try LambdaEvent(json: response.body)
    }

    /// `POST /2020-01-01/extension/init/error`.
    package func initError(reason: String, message: String) {
        report("init/error", reason: reason, message: message)
    }

    /// `POST /2020-01-01/extension/exit/error`; the extension exits after it.
    package func exitError(reason: String, message: String) {
        report("exit/error", reason: reason, message: message)
    }

    private func report(_ path: String, reason: String, message: String) {
        let body =
            #"{"errorMessage":"# + JSONText.quoted(message) + #","errorType":"# + JSONText.quoted("Extension.\(reason)")
            + #","stackTrace":[]}"#
        do {
            let response = try call(
                HTTPClientRequest(
                    method: "POST", url: base + "/2020-01-01/extension/" + path,
                    headers: identifierHeader + [
                        "Lambda-Extension-Function-Error-Type: Extension.\(reason)", "Content-Type: application/json",
                    ],
                    body: Array(body.utf8), timeoutMs: 2_000))
            if response.status != 202, response.status != 200 {
                logger.warning(
                    "the Extensions API refused a report",
                    metadata: [
                        "call": "\(path)", "status": "\(response.status)", "answer": "\(response.text)",
                    ])
            }
        } catch {
            logger.warning("could not report to the Extensions API", metadata: ["call": "\(path)", "error": "\(error)"])
        }
    }

    private func call(_ request: HTTPClientRequest) throws(LambdaAPIError) -> HTTPClientResponse {
        switch curl.perform(request) {
        case .success(let response): return response
        case .failure(let failure): throw LambdaAPIError("\(request.method) \(request.url): \(failure)")
        }
    }
}
