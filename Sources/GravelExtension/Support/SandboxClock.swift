#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The sandbox's wall clock, injectable for tests.
///
/// Lambda's `deadlineMs`, pebble timestamps and every policy interval (the periodic flush,
/// the adaptive window, retry backoff) use the wall clock: the monotonic clock may stand
/// still while the sandbox is frozen, so an interval measured on it would never end.
/// Waits within one thaw (for `platform.runtimeDone`, for a flush) are
/// `ContinuousClock.Instant` deadlines, derived from wall-clock times with ``instant(atWallMs:)``.
package struct SandboxClock: Sendable {
    /// Milliseconds since the Unix epoch.
    package var wallMs: @Sendable () -> Int64

    package init(wallMs: @escaping @Sendable () -> Int64) {
        self.wallMs = wallMs
    }

    package static let system = SandboxClock(wallMs: {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    })

    /// The monotonic instant at which this clock will read `wallMs` (Lambda's `deadlineMs`).
    package func instant(atWallMs target: Int64) -> ContinuousClock.Instant {
        .now + .milliseconds(target - wallMs())
    }
}
