/// Why a request to the push API was refused. Nothing of it was applied.
///
/// Both programs throw this one type from parsing, routing and validation, and answer each
/// ``Code`` with the same HTTP status (``Code/httpStatus``), so a function tested against
/// the extension behaves the same against the gateway. (The extension's own buffer bound
/// never refuses: the function must not fail for it.)
public struct PushFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// The URL path is not a valid grouping key.
        case badPath
        /// The body does not parse, or breaks a per-series rule (line and reason in the message).
        case badBody
        /// The body's Content-Encoding is neither identity nor gzip.
        case unsupportedEncoding
        /// The body, or the body after gzip decoding, passes the body limit.
        case bodyTooLarge
        /// A name only the gateway writes (`push_time_seconds`, `gravel_gateway_*`).
        case reservedName
        /// The push disagrees with what is stored: a metric name's type, a name another
        /// family writes, or a final series another group exposes.
        case conflict
        /// The push would pass the series limit.
        case tooManySeries
        /// A series passes a per-series limit (labels, label bytes, buckets, quantiles).
        case seriesTooLarge
        /// The push would create a group past the group limit.
        case tooManyGroups
        /// The route exists but not for this method.
        case methodNotAllowed
        /// Not a push route.
        case notFound
        /// An `Idempotency-Key` already applied for a different request (a client bug).
        case idempotencyKeyReused
        /// The change cannot be made durable now (the gateway's log is replaying or cannot be
        /// written); nothing was applied, a retry may succeed.
        case unavailable
    }

    /// The status both programs answer each code with, as the Pushgateway answers where it has one.
    public static func httpStatus(of code: Code) -> Int {
        switch code {
        case .badPath, .badBody, .reservedName, .conflict: 400
        case .unsupportedEncoding: 415
        case .bodyTooLarge: 413
        case .tooManySeries, .tooManyGroups, .seriesTooLarge: 422
        case .methodNotAllowed: 405
        case .notFound: 404
        case .idempotencyKeyReused: 409
        case .unavailable: 503
        }
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    /// Cuts a client-supplied token for a message or a log line, so a 16 MB path is not
    /// echoed whole, and shows control bytes escaped, so none reaches a terminal raw.
    public static func clip(_ text: String, limit: Int = 200) -> String {
        var out = ""
        var count = 0
        for scalar in text.unicodeScalars {
            if count >= limit {
                out += "…(\(text.utf8.count) bytes)"
                break
            }
            if scalar.value < 0x20 || scalar.value == 0x7F {
                out += "\\x" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
            } else {
                out.unicodeScalars.append(scalar)
            }
            count += 1
        }
        return out
    }
}
