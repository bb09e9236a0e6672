import Logging
import NIOCore
import Synchronization

/// Refuses connections past `--max-connections`: each holds buffers and, while a scrape
/// streams, a snapshot; a flood of idle or slow connections must not grow memory unbounded.
/// Connections over the limit are closed as soon as they open.
final class ConnectionLimitHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    /// Open connections, shared by every connection's handler.
    final class Counter: Sendable {
        let limit: Int
        let open = Atomic<Int>(0)
        let refused = Atomic<Int>(0)

        init(limit: Int) { self.limit = limit }
    }

    private let counter: Counter
    private let logger: Logger
    private var counted = false

    init(counter: Counter, logger: Logger) {
        self.counter = counter
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        let open = counter.open.add(1, ordering: .relaxed).newValue
        counted = true
        if open > counter.limit {
            counter.refused.add(1, ordering: .relaxed)
            logger.warning(
                "refusing a connection: too many open (--max-connections)",
                metadata: ["limit": "\(counter.limit)", "peer": "\(context.channel.remoteAddress?.description ?? "?")"])
            context.close(promise: nil)
            return
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if counted {
            counter.open.subtract(1, ordering: .relaxed)
            counted = false
        }
        context.fireChannelInactive()
    }
}

@available(*, unavailable)
extension ConnectionLimitHandler: Sendable {}
