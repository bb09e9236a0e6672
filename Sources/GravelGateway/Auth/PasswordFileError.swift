/// Why a `--basic-auth-file` cannot be used. The gateway does not start with it (and keeps
/// its previous hashes when a SIGHUP re-read fails).
struct PasswordFileError: Error, Sendable, CustomStringConvertible {
    enum Code: String, Sendable {
        case unreadable
        case malformedLine
        case empty
    }

    let code: Code
    let path: String
    /// 1-based line number for `malformedLine`.
    let line: Int?
    let message: String

    var description: String {
        if let line { return "\(path):\(line): \(message)" }
        return "\(path): \(message)"
    }
}
