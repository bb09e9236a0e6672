import Shared

/// The passwords an `Authorization: Basic ...` header may carry.
///
/// Clients send `Basic base64(user:password)` (curl `-u`, prometheus_client's
/// `basic_auth_handler`, Go's `SetBasicAuth`); the original Gravel gateway also took the
/// legacy `Basic <password>`. A token cannot say which form it is in (`secret1234` is valid
/// base64), so both readings are tried.
enum BasicCredentials {
    /// The candidate passwords of a header, or `nil` if it is not Basic authentication.
    ///
    /// 1. The token decoded as base64: the part after the first `:` when it holds one (the
    ///    user name is ignored), else all of it.
    /// 2. The token itself, for the legacy raw form.
    static func passwords(in authorization: String) -> [[UInt8]]? {
        let value = authorization.utf8
        let scheme = Array("basic".utf8)
        guard value.count > scheme.count else { return nil }
        var index = value.startIndex
        for expected in scheme {
            // ASCII case folding: the scheme name is case-insensitive (RFC 9110 §11.1).
            guard value[index] | 0x20 == expected else { return nil }
            index = value.index(after: index)
        }
        guard value[index] == UInt8(ascii: " ") || value[index] == UInt8(ascii: "\t") else { return nil }
        var token = Array(value[index...].drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") })
        while let last = token.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") { token.removeLast() }
        guard !token.isEmpty else { return nil }

        var candidates: [[UInt8]] = []
        if let decoded = Base64URL.decode(String(decoding: token, as: UTF8.self)), !decoded.isEmpty {
            if let colon = decoded.firstIndex(of: UInt8(ascii: ":")) {
                candidates.append(Array(decoded[decoded.index(after: colon)...]))
            } else {
                candidates.append(decoded)
            }
        }
        if !candidates.contains(token) { candidates.append(token) }
        return candidates
    }
}
