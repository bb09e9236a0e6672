import NIOConcurrencyHelpers
import Shared

/// A value that other threads change and one thread waits on, with a deadline.
///
/// The lifecycle thread waits here for `platform.runtimeDone` (set by the telemetry
/// listener's event loop) and for the flusher. Built on NIO's locks: the value sits in a
/// `NIOLockedValueBox`, and a `ConditionLock<Bool>` flag says "changed since the waiter last
/// looked", so waiting for any predicate needs no condition variable of our own.
/// Made for one waiter at a time (the lifecycle thread); any number of writers.
package final class WatchedValue<Value: Sendable>: Sendable {
    private let box: NIOLockedValueBox<Value>
    private let changed = ConditionLock(value: false)

    package init(_ value: Value) {
        box = NIOLockedValueBox(value)
    }

    /// Reads or changes the value, then wakes the waiter.
    @discardableResult
    package func update<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        let result = try box.withLockedValue(body)
        changed.lock()
        changed.unlock(withValue: true)
        return result
    }

    /// Reads the value without waking anyone.
    package func read<R>(_ body: (Value) throws -> R) rethrows -> R {
        try box.withLockedValue { try body($0) }
    }

    /// Blocks until `predicate` holds or `deadline` passes (`nil`: no deadline).
    /// Returns whether the predicate held.
    package func wait(until deadline: ContinuousClock.Instant?, _ predicate: (Value) -> Bool) -> Bool {
        while true {
            if read(predicate) { return true }
            if let deadline {
                let left = deadline - .now
                guard left > .zero else { return false }
                guard changed.lock(whenValue: true, timeoutSeconds: left.seconds) else { return read(predicate) }
            } else {
                changed.lock(whenValue: true)
            }
            changed.unlock(withValue: false)
        }
    }
}
