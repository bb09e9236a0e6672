import Shared

/// Why a push was refused as a whole. Nothing of it was applied.
struct PushError: Error, Sendable, CustomStringConvertible {
    enum Kind: Sendable {
        case badRequest
        case tooManySeries
        /// An `Idempotency-Key` reused for a different request (409).
        case conflict
        /// The change cannot be made durable now: the log is replaying or cannot be written (503).
        case unavailable
    }

    let kind: Kind
    let message: String

    static func badRequest(_ message: String) -> PushError { PushError(kind: .badRequest, message: message) }

    var description: String { message }
}
