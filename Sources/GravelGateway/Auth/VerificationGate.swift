import NIOCore
import Synchronization

/// Bounds how many bcrypt verifications run at once, and how many may wait for a turn.
///
/// A credential that is not cached yet costs a bcrypt run per hash in the file; without a
/// bound, anyone who can reach the port could keep every core busy with wrong passwords.
/// Past `permits` running and `maxWaiting` queued, `enter()` answers `false` at once and the
/// gateway replies 429 without hashing anything. Cached credentials never pass through here.
final class VerificationGate: Sendable {
    private struct State {
        var running = 0
        var waiting = CircularBuffer<CheckedContinuation<Bool, Never>>()
    }

    let permits: Int
    let maxWaiting: Int
    private let state = Mutex(State())

    init(permits: Int, maxWaiting: Int) {
        precondition(permits > 0 && maxWaiting >= 0)
        self.permits = permits
        self.maxWaiting = maxWaiting
    }

    /// Takes a turn, waiting in line if all permits are in use; `false` when the line is full.
    /// A `true` must be paired with `leave()`.
    func enter() async -> Bool {
        // Waiting ignores task cancellation: the line is short and moves at bcrypt speed.
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let answer: Bool? = state.withLock { state in
                if state.running < permits {
                    state.running += 1
                    return true
                }
                if state.waiting.count >= maxWaiting { return false }
                state.waiting.append(continuation)
                return nil
            }
            if let answer { continuation.resume(returning: answer) }
        }
    }

    /// Gives the turn to the next in line, or frees the permit.
    func leave() {
        let next: CheckedContinuation<Bool, Never>? = state.withLock { state in
            if let next = state.waiting.popFirst() { return next }
            state.running -= 1
            return nil
        }
        next?.resume(returning: true)
    }

    /// Verifications running now and waiting, for tests and logs.
    var load: (running: Int, waiting: Int) {
        state.withLock { ($0.running, $0.waiting.count) }
    }
}
