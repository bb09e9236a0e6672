/// An event from the Extensions API's `/event/next`.
package enum LambdaEvent: Sendable, Equatable {
    case invoke(requestId: String, deadlineMs: Int64)
    case shutdown(reason: String, deadlineMs: Int64)

    /// Parses an event body; unknown event types are an error the caller reports.
    package init(json bytes: [UInt8]) throws(LambdaAPIError) {
        let document: JSONValue
        do {
            document = try JSONValue.parse(bytes)
        } catch {
            throw LambdaAPIError("event/next returned invalid JSON: \(error)")
        }
        let deadline = Int64(document["deadlineMs"]?.number ?? 0)
        switch document["eventType"]?.string?.uppercased() {
        case "INVOKE":
            self = .invoke(requestId: document["requestId"]?.string ?? "", deadlineMs: deadline)
        case "SHUTDOWN":
            self = .shutdown(reason: (document["shutdownReason"]?.string ?? "").lowercased(), deadlineMs: deadline)
        default:
            throw LambdaAPIError("event/next returned an unknown event: \(String(decoding: bytes.prefix(200), as: UTF8.self))")
        }
    }
}

/// A failed call to a Lambda API.
package struct LambdaAPIError: Error, Sendable, CustomStringConvertible {
    package let message: String
    package init(_ message: String) { self.message = message }
    package var description: String { message }
}
