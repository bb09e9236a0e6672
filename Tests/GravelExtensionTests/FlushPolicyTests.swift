@testable import GravelExtension
import Testing

@Suite("Flush policy")
struct FlushPolicyTests {
    @Test("end flushes at every freeze with data, never without")
    func end() {
        let p = FlushPolicy(strategy: .end, now: 0)
        #expect(p.shouldFlush(now: 0.1, hasData: true))
        #expect(!p.shouldFlush(now: 0.1, hasData: false))
    }

    @Test("periodic waits for the interval since the last attempt")
    func periodic() {
        var p = FlushPolicy(strategy: .periodic(60), now: 0)
        #expect(!p.shouldFlush(now: 30, hasData: true))
        #expect(p.shouldFlush(now: 61, hasData: true))
        p.attempted(at: 61)
        p.finished(success: true, at: 61)
        #expect(!p.shouldFlush(now: 100, hasData: true))
    }

    @Test("adaptive: end while sparse, periodic once 20 invocations fall within a minute")
    func adaptive() {
        var p = FlushPolicy(strategy: .adaptive, now: 0)
        for i in 0..<19 { p.invocationStarted(at: Double(i)) }
        #expect(p.effective(now: 19) == .end)
        p.invocationStarted(at: 19)
        #expect(p.effective(now: 19) == .periodic(10))
        #expect(p.effective(now: 100) == .end)
    }

    @Test("Failures back off exponentially up to the maximum")
    func backoff() {
        var p = FlushPolicy(strategy: .end, maxBackoff: 5, now: 0)
        p.finished(success: false, at: 10)
        #expect(!p.shouldFlush(now: 10.5, hasData: true))
        #expect(p.shouldFlush(now: 11, hasData: true))
        p.finished(success: false, at: 11)
        #expect(p.retryAt == 13)
        for t in 12..<20 { p.finished(success: false, at: Double(t)) }
        #expect(p.retryAt == 24)
        p.finished(success: true, at: 30)
        #expect(p.shouldFlush(now: 30, hasData: true))
    }

    @Test("GRAVEL_FLUSH spellings")
    func parsing() {
        #expect(FlushStrategy("end") == .end)
        #expect(FlushStrategy("adaptive") == .adaptive)
        #expect(FlushStrategy("periodic,60") == .periodic(60))
        #expect(FlushStrategy("periodic, 0.5") == .periodic(0.5))
        #expect(FlushStrategy("periodic") == nil)
        #expect(FlushStrategy("sometimes") == nil)
    }
}
