import Logging
import NIOCore
import NIOHTTPTypes

/// Closes a connection whose request body does not arrive in full within `timeout` of its head.
///
/// Hummingbird's idle timeout already closes connections that go quiet, including a client
/// that trickles a request head (no part is decoded until the head is complete). It restarts
/// on every body chunk, though, so a client sending one byte of body every few seconds would
/// hold its connection, and a graceful shutdown, forever. This bounds the whole body.
final class RequestReadTimeoutHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    private var deadline: ConnectionDeadline

    init(timeout: TimeAmount, logger: Logger) {
        deadline = ConnectionDeadline(timeout: timeout, logger: logger)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            deadline.start(context, reason: "closing connection: request body not received in time (--read-timeout)")
        case .body:
            break
        case .end:
            deadline.stop()
        }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline.stop()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline.stop()
    }
}

@available(*, unavailable)
extension RequestReadTimeoutHandler: Sendable {}
