import Logging
import NIOCore

/// Closes a connection whose client stops reading the response for `timeout`.
///
/// A scrape streams its response; a client that never reads would otherwise keep the
/// response's snapshot (and the connection) alive forever. NIO marks a channel unwritable
/// when its outbound buffer passes the high-water mark; if it is still unwritable after
/// `timeout`, the client is not reading.
final class WriteTimeoutHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private var deadline: ConnectionDeadline

    init(timeout: TimeAmount, logger: Logger) {
        deadline = ConnectionDeadline(timeout: timeout, logger: logger)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            deadline.stop()
        } else if !deadline.isRunning {
            deadline.start(context, reason: "closing connection: the client stopped reading its response (--write-timeout)")
        }
        context.fireChannelWritabilityChanged()
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
extension WriteTimeoutHandler: Sendable {}
