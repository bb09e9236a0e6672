/// The three operations of the Pushgateway push API.
public enum PushMethod: String, Sendable, Hashable {
    /// Merge the body into the group.
    case post = "POST"
    /// Replace the group with the body.
    case put = "PUT"
    /// Remove the group.
    case delete = "DELETE"
}
