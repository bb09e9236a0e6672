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

    private let timeout: TimeAmount
    private let logger: Logger
    private var deadline: Scheduled<Void>?

    init(timeout: TimeAmount, logger: Logger) {
        self.timeout = timeout
        self.logger = logger
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            deadline?.cancel()
            deadline = nil
        } else if deadline == nil {
            let timeout = self.timeout
            let logger = self.logger
            deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
                logger.info(
                    "closing connection: the client stopped reading its response (--write-timeout)",
                    metadata: ["timeout": "\(timeout)", "peer": "\(context.channel.remoteAddress?.description ?? "?")"])
                context.close(promise: nil)
            }
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }
}

@available(*, unavailable)
extension WriteTimeoutHandler: Sendable {}
