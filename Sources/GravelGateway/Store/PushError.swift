import Shared

/// Why a push was refused as a whole. Nothing of it was applied.
struct PushError: Error, Sendable, CustomStringConvertible {
    enum Kind: Sendable {
        case badRequest
        case tooManySeries
        case tooManyGroups
    }

    let kind: Kind
    let message: String

    static func badRequest(_ message: String) -> PushError { PushError(kind: .badRequest, message: message) }

    var description: String { message }
}
