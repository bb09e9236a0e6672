import Logging
import ServiceLifecycle
import Shared
import Synchronization

/// Drops groups not pushed to for `--series-ttl`, checking a few times per TTL.
///
/// Until a group expires, its `push_time_seconds` shows how old it is; after, it is gone
/// from the scrape as if deleted, and `gravel_gateway_groups_expired_total` counts it.
struct SeriesExpiryService: Service {
    let store: MetricStore
    let metrics: GatewayMetrics
    let ttl: Duration
    let clock: @Sendable () -> Double
    let logger: Logger

    /// A tenth of the TTL, between 100 ms and 10 s: a group lives at most that much past it.
    var interval: Duration {
        min(max(ttl / 10, .milliseconds(100)), .seconds(10))
    }

    func run() async throws {
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                return
            }
            sweep()
        }
    }

    /// Expires what is due now; returns how many groups went.
    @discardableResult
    func sweep() -> Int {
        let expired = store.expire(olderThan: clock() - ttl.seconds)
        if expired > 0 {
            metrics.expiredGroups.add(expired, ordering: .relaxed)
            logger.debug("groups expired", metadata: ["count": "\(expired)", "ttl": "\(ttl)"])
        }
        return expired
    }
}

extension SeriesExpiryService: CustomStringConvertible {
    var description: String { "SeriesExpiryService(ttl: \(ttl))" }
}
