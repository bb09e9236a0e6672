import Logging
import Synchronization

/// Runs flushes on its own thread, so the lifecycle thread can stop waiting at the flush
/// timeout while libcurl finishes (or fails) in the background.
///
/// A flush that outlives its wait keeps running; when it ends, its failed groups go back
/// into the store, and the next flush point finds the flusher idle again.
package final class Flusher: Sendable {
    package enum Result: Sendable, Equatable {
        /// Nothing was pending.
        case nothing
        /// A previous flush was still running at the deadline.
        case busy
        case delivered
        /// Some groups failed and were kept for later; some may have been delivered.
        case failed(String)
        /// The wait ended at the deadline; the flush goes on in the background.
        case timedOut
    }

    struct Job: Sendable {
        var batch: Batch
        var deadline: Double
    }

    struct Shared: Sendable {
        var job: Job?
        var busy = false
        var generation = 0
        var lastResult: Result = .nothing
    }

    private let box = ConditionBox(Shared())
    package let store: BatchStore
    package let policy: Mutex<FlushPolicy>
    private let clock: Clock
    private let logger: Logger

    package init(store: BatchStore, policy: FlushPolicy, clock: Clock, logger: Logger) {
        self.store = store
        self.policy = Mutex(policy)
        self.clock = clock
        self.logger = logger
    }

    /// Starts the flusher thread with a client made on that thread.
    package func start(makeClient: @escaping @Sendable () -> GatewayClient) {
        ThreadSpawn.detached { [self] in
            let client = makeClient()
            while true {
                _ = box.wait(until: nil) { $0.job != nil }
                guard let job = box.withLock({ shared -> Job? in
                    defer { shared.job = nil }
                    return shared.job
                }) else { continue }
                let started = clock.monotonic()
                var batch = job.batch
                var result: Result
                while true {
                    let outcome = client.send(batch, deadline: job.deadline)
                    store.recordDrop(reason: "rejected", count: outcome.refusedEntries)
                    store.finish(returning: outcome.retry)
                    let wallNow = clock.wallSeconds()
                    policy.withLock { $0.finished(success: outcome.success, at: wallNow) }
                    guard outcome.success else {
                        logger.warning("flush failed; the batch is kept and retried with the same Idempotency-Key", metadata: [
                            "error": "\(outcome.lastError ?? "out of time")", "kept_groups": "\(outcome.retry.groups.count)",
                        ])
                        result = .failed(outcome.lastError ?? "not delivered in time")
                        break
                    }
                    logger.debug("flushed", metadata: [
                        "groups": "\(outcome.delivered)", "refused": "\(outcome.refused)",
                        "ms": "\(Int((clock.monotonic() - started) * 1000))",
                    ])
                    result = .delivered
                    // A retried batch went out first; what was pushed meanwhile follows if
                    // time is left.
                    guard clock.monotonic() < job.deadline, let next = store.take(nowMs: clock.wallMs()) else { break }
                    batch = next
                }
                box.withLock { shared in
                    shared.busy = false
                    shared.generation += 1
                    shared.lastResult = result
                }
            }
        }
    }

    /// Flushes what is pending and waits for it until `deadline` (monotonic seconds).
    package func flush(deadline: Double) -> Result {
        guard box.wait(until: deadline, { !$0.busy }) else { return .busy }
        guard let batch = store.take(nowMs: clock.wallMs()) else { return .nothing }
        let now = clock.wallSeconds()
        policy.withLock { $0.attempted(at: now) }
        let generation = box.withLock { shared -> Int in
            shared.job = Job(batch: batch, deadline: deadline)
            shared.busy = true
            return shared.generation
        }
        guard box.wait(until: deadline, { $0.generation > generation }) else { return .timedOut }
        return box.withLock { $0.lastResult }
    }

    /// Whether the policy would flush now, given whether data is pending.
    package func isDue(hasData: Bool) -> Bool {
        let now = clock.wallSeconds()
        return policy.withLock { $0.shouldFlush(now: now, hasData: hasData) }
    }

    /// Flushes if the policy says so, waiting until `deadline` (monotonic seconds); returns
    /// `nil` when it did not try.
    package func flushIfDue(deadline: Double) -> Result? {
        guard isDue(hasData: store.hasPendingData) else { return nil }
        return flush(deadline: deadline)
    }

    /// Waits until no flush is running, or the deadline.
    package func waitIdle(until deadline: Double) -> Bool {
        box.wait(until: deadline) { !$0.busy }
    }
}
