import NIOCore

/// A push request's body as both programs read it: gzip or not, then protobuf, OpenMetrics
/// or the text format by `Content-Type` (and `# EOF`).
public enum PushBody {
    /// Why a body was refused, with the HTTP status it deserves.
    public struct Refusal: Error, Sendable {
        public let status: Int
        public let message: String
    }

    /// Inflates and parses a body. `limitName` names the setting that sets `limit` in messages;
    /// `limits` bound the series (their `maxExpandedBytes` follows from `limit`).
    public static func parse(
        _ body: ByteBuffer, contentEncoding: String?, contentType: String?, grouping: GroupingKey,
        limit: Int, limitName: String, limits: ParseLimits = ParseLimits()
    ) throws(Refusal) -> ParsedPush {
        let limits = limits.withBodyLimit(limit)
        var body = body
        switch contentEncoding?.lowercased() {
        case nil, "identity":
            break
        case "gzip", "x-gzip":
            do {
                body = try Gzip.decompress(body, limit: limit)
            } catch .tooLarge {
                throw Refusal(status: 413, message: "the decompressed body is larger than \(limit) bytes (\(limitName))")
            } catch {
                throw Refusal(status: 400, message: error.description)
            }
        case let other?:
            throw Refusal(status: 415, message: "unsupported Content-Encoding \(ErrorText.token(other)); send identity or gzip")
        }
        let parsed = body.withUnsafeReadableBytes { raw in
            Result { () throws(ExpositionError) -> ParsedPush in
                if ProtobufExposition.matches(contentType: contentType) {
                    return try ProtobufExposition.parse(raw, grouping: grouping, limits: limits)
                }
                let format = ExpositionFormat.detect(contentType: contentType, body: raw)
                return try ExpositionParser.parse(raw, format: format, grouping: grouping, limits: limits)
            }
        }
        switch parsed {
        case .success(let push): return push
        case .failure(let error): throw Refusal(status: status(of: error.code), message: error.description)
        }
    }

    /// 422 for a series over a configured limit (as for `--max-series`), 413 for a push that
    /// is too large once written out, 400 for everything malformed.
    public static func status(of code: ExpositionError.Code) -> Int {
        switch code {
        case .limitExceeded: 422
        case .tooLarge: 413
        default: 400
        }
    }
}
