import Hummingbird
import NIOCore

/// The per-request context: Hummingbird's core storage plus the client's address, which
/// the credential gate uses to give each client a fair share of bcrypt runs.
struct GatewayRequestContext: RequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// The client's IP address (no port: one host is one client), or "" when unknown.
    var clientAddress: String { remoteAddress?.ipAddress ?? "" }
}
