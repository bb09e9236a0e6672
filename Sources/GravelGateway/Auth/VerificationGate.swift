import NIOCore
import Synchronization

/// Bounds how many bcrypt verifications run at once, and how many may wait for a turn.
///
/// A credential that is not cached yet costs a bcrypt run per hash in the file; without a
/// bound, anyone who can reach the port could keep every core busy with wrong passwords.
/// Past `permits` running and `maxWaiting` queued, `enter()` answers `false` at once and the
/// gateway replies 429 without hashing anything. Cached credentials never pass through here.
///
/// Fairness: one client (a source address) holds at most `perClient` places, running or
/// waiting. A single address sending junk credentials cannot fill the line, so a real
/// client whose credential is not cached yet (after a restart or SIGHUP) still gets a turn.
final class VerificationGate: Sendable {
    private struct State {
        var running = 0
        var waiting = CircularBuffer<(client: String, continuation: CheckedContinuation<Bool, Never>)>()
        /// Places (running or waiting) held per client.
        var held: [String: Int] = [:]
    }

    let permits: Int
    let maxWaiting: Int
    let perClient: Int
    private let state = Mutex(State())

    init(permits: Int, maxWaiting: Int, perClient: Int = .max) {
        precondition(permits > 0 && maxWaiting >= 0 && perClient > 0)
        self.permits = permits
        self.maxWaiting = maxWaiting
        self.perClient = perClient
    }

    /// Takes a turn, waiting in line if all permits are in use; `false` when the line is
    /// full or `client` already holds its share. A `true` must be paired with `leave(client:)`.
    func enter(client: String = "") async -> Bool {
        // Waiting ignores task cancellation: the line is short and moves at bcrypt speed.
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let answer: Bool? = state.withLock { state in
                if state.held[client, default: 0] >= perClient { return false }
                if state.running < permits {
                    state.running += 1
                    state.held[client, default: 0] += 1
                    return true
                }
                if state.waiting.count >= maxWaiting { return false }
                state.waiting.append((client, continuation))
                state.held[client, default: 0] += 1
                return nil
            }
            if let answer { continuation.resume(returning: answer) }
        }
    }

    /// Gives the turn to the next in line, or frees the permit.
    func leave(client: String = "") {
        let next: CheckedContinuation<Bool, Never>? = state.withLock { state in
            if let held = state.held[client] { state.held[client] = held > 1 ? held - 1 : nil }
            if let next = state.waiting.popFirst() { return next.continuation }
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
