import NIOCore

/// A push request's body as both programs read it: gzip or not, then protobuf, OpenMetrics
/// or the text format by `Content-Type` (and `# EOF`).
public enum PushBody {
    /// Inflates and parses a body. `limitName` names the setting that sets `limit` in messages;
    /// `limits` bound the series (their `maxExpandedBytes` follows from `limit`).
    public static func parse(
        _ body: ByteBuffer, contentEncoding: String?, contentType: String?, grouping: GroupingKey,
        limit: Int, limitName: String, limits: ParseLimits = ParseLimits()
    ) throws(PushFailure) -> ParsedPush {
        let limits = limits.withBodyLimit(limit)
        var body = body
        switch contentEncoding?.lowercased() {
        case nil, "identity":
            break
        case "gzip", "x-gzip":
            do {
                body = try Gzip.decompress(body, limit: limit)
            } catch .tooLarge {
                throw PushFailure(.bodyTooLarge, "the decompressed body is larger than \(limit) bytes (\(limitName))")
            } catch {
                throw PushFailure(.badBody, error.description)
            }
        case let other?:
            throw PushFailure(.unsupportedEncoding, "unsupported Content-Encoding \(PushFailure.clip(other)); send identity or gzip")
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
        case .failure(let error): throw PushFailure(code(of: error.code), error.description)
        }
    }

    /// A series over a per-series limit is refused as the series limit is; a push that writes
    /// out past its bound is too large, as a body past the body limit is.
    static func code(of code: ExpositionError.Code) -> PushFailure.Code {
        switch code {
        case .limitExceeded: .seriesTooLarge
        case .tooLarge: .bodyTooLarge
        default: .badBody
        }
    }
}
