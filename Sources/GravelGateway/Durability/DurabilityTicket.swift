import Synchronization

/// The promise that one logged change reaches the disk: the request that made it waits on
/// the ticket, the log's writer completes it after the sync (or with the error that stopped it).
final class DurabilityTicket: Sendable {
    enum State {
        case pending([CheckedContinuation<DurabilityError?, Never>])
        case done(DurabilityError?)
    }

    let sequence: UInt64
    let state = Mutex(State.pending([]))

    init(sequence: UInt64) { self.sequence = sequence }

    /// A ticket for a change that needs no disk (nothing to wait for).
    static let durable: DurabilityTicket = {
        let ticket = DurabilityTicket(sequence: 0)
        ticket.complete(nil)
        return ticket
    }()

    func complete(_ error: DurabilityError?) {
        let waiters = state.withLock { state -> [CheckedContinuation<DurabilityError?, Never>] in
            guard case .pending(let waiters) = state else { return [] }
            state = .done(error)
            return waiters
        }
        for waiter in waiters { waiter.resume(returning: error) }
    }

    /// nil once the change is on disk; the error when it never will be.
    var outcome: DurabilityError?? {
        state.withLock { state in
            if case .done(let error) = state { return .some(error) }
            return nil
        }
    }

    /// Waits until the change is on disk, or throws why it is not.
    func wait() async throws(DurabilityError) {
        // Without --data-dir every ticket is done already: no continuation on the hot path.
        if let done = outcome {
            if let done { throw done }
            return
        }
        let error: DurabilityError? = await withCheckedContinuation { continuation in
            let done: DurabilityError?? = state.withLock { state in
                switch state {
                case .done(let error): return .some(error)
                case .pending(var waiters):
                    waiters.append(continuation)
                    state = .pending(waiters)
                    return nil
                }
            }
            if let done { continuation.resume(returning: done) }
        }
        if let error { throw error }
    }
}
