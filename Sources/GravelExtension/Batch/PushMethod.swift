/// The three push operations of the Pushgateway API.
package enum PushMethod: String, Sendable {
    /// Merge the body into the group.
    case post = "POST"
    /// Replace the group with the body.
    case put = "PUT"
    /// Remove the group.
    case delete = "DELETE"
}
