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

    private let timeout: TimeAmount
    private let logger: Logger
    private var deadline: Scheduled<Void>?

    init(timeout: TimeAmount, logger: Logger) {
        self.timeout = timeout
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            deadline?.cancel()
            let timeout = self.timeout
            let logger = self.logger
            deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
                logger.info(
                    "closing connection: request body not received in time (--read-timeout)",
                    metadata: ["timeout": "\(timeout)", "peer": "\(context.channel.remoteAddress?.description ?? "?")"])
                context.close(promise: nil)
            }
        case .body:
            break
        case .end:
            deadline?.cancel()
            deadline = nil
        }
        context.fireChannelRead(data)
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
extension RequestReadTimeoutHandler: Sendable {}
