#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Wall and monotonic time without Foundation.
///
/// Waits within one thawed stretch (flush deadlines) use the monotonic clock. Everything
/// that spans freezes uses the wall clock: the flush interval, the adaptive window and the
/// retry backoff, because the monotonic clock may not advance while the sandbox is frozen
/// (seen after SnapStart restores). Lambda's `deadlineMs` and pebble timestamps are wall
/// clock too.
package struct Clock: Sendable {
    /// Milliseconds since the Unix epoch.
    package var wallMs: @Sendable () -> Int64
    /// Seconds on a monotonic clock with an arbitrary origin.
    package var monotonic: @Sendable () -> Double

    package init(wallMs: @escaping @Sendable () -> Int64, monotonic: @escaping @Sendable () -> Double) {
        self.wallMs = wallMs
        self.monotonic = monotonic
    }

    package static let system = Clock(
        wallMs: {
            var ts = timespec()
            clock_gettime(CLOCK_REALTIME, &ts)
            return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
        },
        monotonic: { Clock.monotonicNow() })

    /// Seconds since the Unix epoch.
    package func wallSeconds() -> Double { Double(wallMs()) / 1000 }

    package static func monotonicNow() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
