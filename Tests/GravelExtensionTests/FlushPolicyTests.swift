import Testing

@testable import GravelExtension

/// Times are wall-clock milliseconds, as the policy keeps them.
@Suite("Flush policy")
struct FlushPolicyTests {
    @Test("end flushes at every freeze with data, never without")
    func end() {
        let p = FlushPolicy(strategy: .end, nowMs: 0)
        #expect(p.shouldFlush(nowMs: 100, hasData: true))
        #expect(!p.shouldFlush(nowMs: 100, hasData: false))
    }

    @Test("periodic waits for the interval since the last attempt")
    func periodic() {
        var p = FlushPolicy(strategy: .periodic(.seconds(60)), nowMs: 0)
        #expect(!p.shouldFlush(nowMs: 30_000, hasData: true))
        #expect(p.shouldFlush(nowMs: 61_000, hasData: true))
        p.attempted(atMs: 61_000)
        p.finished(success: true, atMs: 61_000)
        #expect(!p.shouldFlush(nowMs: 100_000, hasData: true))
    }

    @Test("adaptive: end while sparse, periodic once 20 invocations fall within a minute")
    func adaptive() {
        var p = FlushPolicy(strategy: .adaptive, nowMs: 0)
        for i in 0..<19 { p.invocationStarted(atMs: Int64(i) * 1000) }
        #expect(p.effective(nowMs: 19_000) == .end)
        p.invocationStarted(atMs: 19_000)
        #expect(p.effective(nowMs: 19_000) == .periodic(.seconds(10)))
        #expect(p.effective(nowMs: 100_000) == .end)
    }

    @Test("Failures back off exponentially up to the maximum")
    func backoff() {
        var p = FlushPolicy(strategy: .end, maxBackoff: .seconds(5), nowMs: 0)
        p.finished(success: false, atMs: 10_000)
        #expect(!p.shouldFlush(nowMs: 10_500, hasData: true))
        #expect(p.shouldFlush(nowMs: 11_000, hasData: true))
        p.finished(success: false, atMs: 11_000)
        #expect(p.retryAtMs == 13_000)
        for t in 12..<20 { p.finished(success: false, atMs: Int64(t) * 1000) }
        #expect(p.retryAtMs == 24_000)
        p.finished(success: true, atMs: 30_000)
        #expect(p.shouldFlush(nowMs: 30_000, hasData: true))
    }

    @Test("A frozen monotonic clock does not stop the period: the wall clock decides")
    func wallClockAcrossFreeze() {
        // The sandbox was frozen for 10 minutes between two invocations; only the wall
        // clock moved. The periodic flush is due at the first flush point after the thaw.
        var p = FlushPolicy(strategy: .periodic(.seconds(60)), nowMs: 1_000_000)
        p.attempted(atMs: 1_000_000)
        #expect(p.shouldFlush(nowMs: 1_600_000, hasData: true))
    }

    @Test(
        "GRAVEL_FLUSH spellings",
        arguments: [
            ("end", FlushStrategy.end), ("adaptive", .adaptive), ("periodic,60", .periodic(.seconds(60))),
            ("periodic, 0.5", .periodic(.milliseconds(500))), ("PERIODICALLY,2", .periodic(.seconds(2))),
        ])
    func parsing(text: String, expected: FlushStrategy) {
        #expect(FlushStrategy(text) == expected)
    }

    @Test("GRAVEL_FLUSH values that are refused", arguments: ["periodic", "sometimes", "periodic,-1", "periodic,nan", "end,5"])
    func refused(text: String) {
        #expect(FlushStrategy(text) == nil)
    }
}
