#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A value behind a mutex with a condition variable, for a thread that must block until
/// another thread changes the value, with a deadline.
///
/// `Mutex` from Synchronization has no wait; the lifecycle thread waits here for
/// `platform.runtimeDone` and for the flusher, which are signalled from other threads.
package final class ConditionBox<Value>: @unchecked Sendable {
    // Safety: `value` is only touched with `mutex` held.
    private var value: Value
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>

    package init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Reads or changes the value, then wakes every waiter.
    @discardableResult
    package func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer {
            pthread_cond_broadcast(condition)
            pthread_mutex_unlock(mutex)
        }
        return try body(&value)
    }

    /// Blocks until `predicate` holds or the monotonic clock passes `deadline` (seconds, as
    /// ``Clock/monotonicNow()``; `nil` waits forever). Returns whether the predicate held.
    package func wait(until deadline: Double?, _ predicate: (Value) -> Bool) -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while !predicate(value) {
            guard let deadline else {
                pthread_cond_wait(condition, mutex)
                continue
            }
            if Clock.monotonicNow() >= deadline { return false }
            var ts = timespec()
            let whole = deadline.rounded(.down)
            ts.tv_sec = time_t(whole)
            ts.tv_nsec = Int(((deadline - whole) * 1e9).rounded(.down))
            pthread_cond_timedwait(condition, mutex, &ts)
        }
        return true
    }
}
