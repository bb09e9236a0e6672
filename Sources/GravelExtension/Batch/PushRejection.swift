/// Why a push to the local listener was refused. Nothing of it was merged.
package struct PushRejection: Error, Sendable, CustomStringConvertible {
    package enum Kind: Sendable {
        /// The gateway would refuse it too: 400.
        case badRequest
        /// The batch is full (`GRAVEL_MAX_SERIES`): 422, as the gateway answers for its own limit.
        case tooManySeries
    }

    package let kind: Kind
    package let message: String

    package static func badRequest(_ message: String) -> PushRejection { PushRejection(kind: .badRequest, message: message) }

    package var status: Int { kind == .badRequest ? 400 : 422 }
    package var description: String { message }
}
