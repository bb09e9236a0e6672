import Shared

/// Decides at each flush point whether to flush, and backs off after failures.
///
/// Times are wall-clock milliseconds (``SandboxClock``): a frozen sandbox may stop the
/// monotonic clock, and an interval measured on it would not end across freezes.
/// `adaptive` flushes at every invocation end until invocations come often (20 within a
/// minute), then every 10 s: frequent traffic would otherwise pay a gateway round trip per
/// invocation, while sparse traffic would leave data frozen in an idle sandbox for long.
package struct FlushPolicy: Sendable {
    package let strategy: FlushStrategy
    package let maxBackoff: Duration
    package private(set) var lastAttemptMs: Int64
    package private(set) var failures = 0
    package private(set) var retryAtMs: Int64 = 0
    private var recentInvocationsMs: [Int64] = []

    static let adaptiveWindow = 20
    static let adaptiveSpan = Duration.seconds(60)
    static let adaptiveInterval = Duration.seconds(10)

    package init(strategy: FlushStrategy, maxBackoff: Duration = .seconds(30), nowMs: Int64) {
        self.strategy = strategy
        self.maxBackoff = maxBackoff
        self.lastAttemptMs = nowMs
    }

    package mutating func invocationStarted(atMs nowMs: Int64) {
        recentInvocationsMs.append(nowMs)
        if recentInvocationsMs.count > Self.adaptiveWindow { recentInvocationsMs.removeFirst() }
    }

    /// The strategy in force now (`adaptive` resolves to `end` or `periodic`).
    package func effective(nowMs: Int64) -> FlushStrategy {
        guard strategy == .adaptive else { return strategy }
        if recentInvocationsMs.count >= Self.adaptiveWindow,
            nowMs - recentInvocationsMs[0] <= Self.adaptiveSpan.milliseconds
        {
            return .periodic(Self.adaptiveInterval)
        }
        return .end
    }

    /// Whether to flush before this freeze.
    package func shouldFlush(nowMs: Int64, hasData: Bool) -> Bool {
        guard hasData else { return false }
        if failures > 0 { return nowMs >= retryAtMs }
        switch effective(nowMs: nowMs) {
        case .end, .adaptive: return true
        case .periodic(let interval): return nowMs - lastAttemptMs >= interval.milliseconds
        }
    }

    package mutating func attempted(atMs nowMs: Int64) {
        lastAttemptMs = nowMs
    }

    /// Records a flush's outcome: a failure (the gateway down, slow or 5xx) backs off 1 s,
    /// 2 s, 4 s, … up to `maxBackoff`.
    package mutating func finished(success: Bool, atMs nowMs: Int64) {
        if success {
            failures = 0
            retryAtMs = 0
        } else {
            failures += 1
            var delayMs: Int64 = 1000
            for _ in 1..<min(failures, 30) { delayMs *= 2 }
            retryAtMs = nowMs + min(delayMs, maxBackoff.milliseconds)
        }
    }
}
