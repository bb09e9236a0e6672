import Logging
import NIOConcurrencyHelpers
import NIOPosix
import Shared
import Synchronization

/// Runs flushes on a thread of its own, so the lifecycle thread can stop waiting at the
/// flush deadline while libcurl finishes (or fails) in the background.
///
/// A flush that outlives its wait keeps running; when it ends, its failed groups go back
/// into the store, and the next flush point finds the flusher idle again.
package final class Flusher: Sendable {
    /// Where the single flush slot is; the lifecycle thread waits for `.idle`, the flusher
    /// thread for `.queued`.
    enum Phase: Equatable {
        case idle
        case queued
        case running
    }

    struct Job: Sendable {
        var batch: Batch
        var deadline: ContinuousClock.Instant
    }

    /// The job handed to the flusher thread and the last flush's outcome.
    struct Slot: Sendable {
        var job: Job?
        var lastOutcome: FlushOutcome = .nothing
    }

    private let phase = ConditionLock(value: Phase.idle)
    private let slot = NIOLockedValueBox(Slot())
    /// One thread that blocks in libcurl and must never hold an event loop.
    private let thread = NIOThreadPool(numberOfThreads: 1)
    package let store: BatchStore
    package let policy: Mutex<FlushPolicy>
    private let clock: SandboxClock
    private let logger: Logger

    package init(store: BatchStore, policy: FlushPolicy, clock: SandboxClock, logger: Logger) {
        self.store = store
        self.policy = Mutex(policy)
        self.clock = clock
        self.logger = logger
    }

    /// Starts the flusher thread with a client made on that thread.
    package func start(makeClient: @escaping @Sendable () -> GatewayClient) {
        thread.start()
        thread.submit { [self] _ in
            let client = makeClient()
            while true {
                phase.lock(whenValue: .queued)
                let job = slot.withLockedValue { slot -> Job? in
                    defer { slot.job = nil }
                    return slot.job
                }
                phase.unlock(withValue: .running)
                guard let job else { continue }
                let outcome = run(job, client: client)
                slot.withLockedValue { $0.lastOutcome = outcome }
                phase.lock()
                phase.unlock(withValue: .idle)
            }
        }
    }

    /// Sends the job's batch; once it is delivered, what was pushed meanwhile follows if
    /// time is left. A failed batch goes back to the store unchanged, to be sent again with
    /// the same Idempotency-Key.
    private func run(_ job: Job, client: GatewayClient) -> FlushOutcome {
        let started = ContinuousClock.now
        var batch = job.batch
        while true {
            let sent = client.send(batch, deadline: job.deadline)
            store.recordDrop(reason: "rejected", count: sent.refusedEntries)
            store.finish(returning: sent.retry)
            let nowMs = clock.wallMs()
            policy.withLock { $0.finished(success: sent.success, atMs: nowMs) }
            guard sent.success else {
                logger.warning(
                    "flush failed; the batch is kept and retried with the same Idempotency-Key",
                    metadata: [
                        "error": "\(sent.lastError ?? "out of time")", "kept_groups": "\(sent.retry.groups.count)",
                    ])
                return .failed(sent.lastError ?? "not delivered in time")
            }
            logger.debug(
                "flushed",
                metadata: [
                    "groups": "\(sent.delivered)", "refused": "\(sent.refused)",
                    "ms": "\((ContinuousClock.now - started).milliseconds)",
                ])
            guard ContinuousClock.now < job.deadline, let next = store.take(nowMs: clock.wallMs()) else { return .delivered }
            batch = next
        }
    }

    /// Flushes what is pending and waits for it until `deadline`.
    package func flush(deadline: ContinuousClock.Instant) -> FlushOutcome {
        guard lockIdle(until: deadline) else { return .busy }
        guard let batch = store.take(nowMs: clock.wallMs()) else {
            phase.unlock()
            return .nothing
        }
        let nowMs = clock.wallMs()
        policy.withLock { $0.attempted(atMs: nowMs) }
        slot.withLockedValue { $0.job = Job(batch: batch, deadline: deadline) }
        phase.unlock(withValue: .queued)
        guard lockIdle(until: deadline) else { return .timedOut }
        defer { phase.unlock() }
        return slot.withLockedValue { $0.lastOutcome }
    }

    /// Flushes if the policy says so; returns `nil` when it did not try.
    package func flushIfDue(deadline: ContinuousClock.Instant) -> FlushOutcome? {
        guard isDue(hasData: store.hasPendingData) else { return nil }
        return flush(deadline: deadline)
    }

    /// Whether the policy would flush now, given whether data is pending.
    package func isDue(hasData: Bool) -> Bool {
        let nowMs = clock.wallMs()
        return policy.withLock { $0.shouldFlush(nowMs: nowMs, hasData: hasData) }
    }

    /// Waits until no flush is running, or the deadline.
    package func waitIdle(until deadline: ContinuousClock.Instant) -> Bool {
        guard lockIdle(until: deadline) else { return false }
        phase.unlock()
        return true
    }

    /// Takes the phase lock once the flusher is idle; `false` (lock not held) at the deadline.
    private func lockIdle(until deadline: ContinuousClock.Instant) -> Bool {
        let left = deadline - .now
        return phase.lock(whenValue: .idle, timeoutSeconds: max(0, left.seconds))
    }
}
