#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A failure of the data directory: what was being done, to which file, and the system's reason.
struct DurabilityError: Error, Sendable, CustomStringConvertible {
    enum Kind: Sendable, Equatable {
        /// A system call failed (`errno` holds why): disk full, I/O error, permissions.
        case io(errno: Int32)
        /// A log segment is damaged before its end; start-up stops unless told to accept the loss.
        case corruption
        /// A snapshot file does not check out.
        case badSnapshot
    }

    let kind: Kind
    let message: String

    static func io(_ what: String, path: String, errno code: Int32 = errno) -> DurabilityError {
        DurabilityError(kind: .io(errno: code), message: "\(what) \(path): \(String(cString: strerror(code)))")
    }

    var description: String { message }
}
