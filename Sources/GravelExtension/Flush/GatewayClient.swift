import Logging
import NIOCore
import Shared

/// Sends a batch to the gateway over one keep-alive libcurl handle.
///
/// Not thread-safe: the flusher thread owns it.
package final class GatewayClient {
    /// What became of a batch.
    package struct Outcome: Sendable {
        /// Groups to send again later: the gateway was unreachable, slow or answered 5xx.
        package var retry = Batch()
        package var delivered = 0
        /// Groups the gateway refused (4xx): dropped, with their entry count.
        package var refused = 0
        package var refusedEntries = 0
        package var lastError: String?

        package var success: Bool { retry.isEmpty }
    }

    private let baseURL: String
    private let curl: CurlEasy
    private let logger: Logger
    private let utf8Names: Bool

    package init(config: Config, logger: Logger) {
        self.baseURL = config.gatewayURL
        self.utf8Names = config.utf8Names
        self.logger = logger
        // The flush honours http_proxy/https_proxy/ALL_PROXY/NO_PROXY: egress from a VPC
        // may have to go through one.
        let trust =
            config.gatewayURL.lowercased().hasPrefix("https://")
            ? SystemCABundle.trust(extraFile: config.gatewayCAFile, logger: logger) : .libraryDefault
        self.curl = CurlEasy(security: CurlSecurity(password: config.gatewayPassword, trust: trust, useEnvironmentProxy: true))
    }

    /// Sends every group in flush order until `deadline`.
    package func send(_ batch: Batch, deadline: ContinuousClock.Instant) -> Outcome {
        var outcome = Outcome()
        outcome.retry.idempotencyKey = batch.idempotencyKey
        var giveUp = false
        for key in batch.flushOrder() {
            let group = batch.groups[key]!
            let remainingMs = Int((deadline - .now).milliseconds)
            if giveUp || remainingMs <= 0 {
                outcome.retry.groups[key] = group
                continue
            }
            let request = group.request(utf8Names: utf8Names)
            var headers: [String] = []
            // The gateway applies a request with a key it has seen once only: a retry of a
            // request whose answer was lost (a freeze, a timeout) is not counted twice.
            if let key = batch.idempotencyKey(for: group) { headers.append("Idempotency-Key: \(key)") }
            var body: [UInt8]? = nil
            if request.method != .delete {
                let compressed = Gzip.compress(ByteBuffer(bytes: request.body))
                body = Array(compressed.readableBytesView)
                headers += ["Content-Type: \(request.contentType)", "Content-Encoding: gzip"]
            }
            let result = curl.perform(
                HTTPClientRequest(
                    method: request.method.rawValue, url: baseURL + request.path, headers: headers, body: body,
                    timeoutMs: max(1, remainingMs)))
            switch result {
            case .success(let response) where (200..<300).contains(response.status):
                outcome.delivered += 1
            case .success(let response) where (400..<500).contains(response.status) && response.status != 408 && response.status != 429:
                let message = response.text.trimmingTrailingNewlines
                logger.error(
                    "the gateway refused a batch; dropped",
                    metadata: [
                        "status": "\(response.status)", "group": "\(group.grouping)", "entries": "\(request.entries)",
                        "reason": "\(message)",
                    ])
                outcome.refused += 1
                outcome.refusedEntries += max(request.entries, 1)
            case .success(let response):
                outcome.lastError = "HTTP \(response.status): \(response.text.trimmingTrailingNewlines)"
                outcome.retry.groups[key] = group
            case .failure(let failure):
                // Unreachable or out of time: the next groups would fail the same way.
                outcome.lastError = failure.description
                outcome.retry.groups[key] = group
                giveUp = true
            }
        }
        return outcome
    }
}

extension String {
    var trimmingTrailingNewlines: String {
        var s = Substring(self)
        while let c = s.last, c.isNewline || c == " " { s.removeLast() }
        return String(s)
    }
}
