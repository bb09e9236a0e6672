/// Decides at each flush point whether to flush, and backs off after failures.
///
/// Time is wall-clock seconds: intervals span freezes, during which the monotonic clock
/// may stand still. `adaptive` flushes at every invocation end
/// until invocations come often (20 within a minute), then every 10 s: frequent traffic
/// would otherwise pay a gateway round trip per invocation, while sparse traffic would
/// leave data frozen in an idle sandbox for long.
package struct FlushPolicy: Sendable {
    package let strategy: FlushStrategy
    package let maxBackoff: Double
    package private(set) var lastAttempt: Double
    package private(set) var failures = 0
    package private(set) var retryAt: Double = 0
    private var recentInvocations: [Double] = []

    static let adaptiveWindow = 20
    static let adaptiveSpan = 60.0
    static let adaptiveInterval = 10.0

    package init(strategy: FlushStrategy, maxBackoff: Double = 30, now: Double) {
        self.strategy = strategy
        self.maxBackoff = maxBackoff
        self.lastAttempt = now
    }

    package mutating func invocationStarted(at now: Double) {
        recentInvocations.append(now)
        if recentInvocations.count > Self.adaptiveWindow { recentInvocations.removeFirst() }
    }

    /// The strategy in force now (`adaptive` resolves to `end` or `periodic`).
    package func effective(now: Double) -> FlushStrategy {
        guard strategy == .adaptive else { return strategy }
        if recentInvocations.count >= Self.adaptiveWindow, now - recentInvocations[0] <= Self.adaptiveSpan {
            return .periodic(Self.adaptiveInterval)
        }
        return .end
    }

    /// Whether to flush before this freeze.
    package func shouldFlush(now: Double, hasData: Bool) -> Bool {
        guard hasData else { return false }
        if failures > 0 { return now >= retryAt }
        switch effective(now: now) {
        case .end, .adaptive: return true
        case .periodic(let interval): return now - lastAttempt >= interval
        }
    }

    package mutating func attempted(at now: Double) {
        lastAttempt = now
    }

    /// Records a flush's outcome: a failure (the gateway down, slow or 5xx) backs off 1 s,
    /// 2 s, 4 s, … up to `maxBackoff`.
    package mutating func finished(success: Bool, at now: Double) {
        if success {
            failures = 0
            retryAt = 0
        } else {
            failures += 1
            var delay = 1.0
            for _ in 1..<min(failures, 30) { delay *= 2 }
            retryAt = now + min(delay, maxBackoff)
        }
    }
}
