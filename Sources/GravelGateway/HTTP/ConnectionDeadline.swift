import Logging
import NIOCore

/// A countdown that closes its connection when it runs out, shared by the gateway's timeout
/// handlers (``WriteTimeoutHandler``, ``RequestReadTimeoutHandler``). Used on the channel's
/// event loop only, as the handlers are.
struct ConnectionDeadline {
    let timeout: TimeAmount
    let logger: Logger
    private var scheduled: Scheduled<Void>?

    init(timeout: TimeAmount, logger: Logger) {
        self.timeout = timeout
        self.logger = logger
    }

    var isRunning: Bool { scheduled != nil }

    /// Starts the countdown again from `timeout`; when it runs out, logs `reason` with the
    /// timeout and the peer and closes the connection.
    mutating func start(_ context: ChannelHandlerContext, reason: Logger.Message) {
        scheduled?.cancel()
        let timeout = self.timeout
        let logger = self.logger
        scheduled = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            logger.info(reason, metadata: ["timeout": "\(timeout)", "peer": "\(context.channel.remoteAddress?.description ?? "?")"])
            context.close(promise: nil)
        }
    }

    mutating func stop() {
        scheduled?.cancel()
        scheduled = nil
    }
}
