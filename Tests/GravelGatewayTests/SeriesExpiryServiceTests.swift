import Logging
import Shared
import Synchronization
import Testing

@testable import GravelGateway

@Suite("Series expiry")
struct SeriesExpiryServiceTests {
    final class ManualClock: Sendable {
        let now = Mutex(1000.0)
        var read: @Sendable () -> Double { { self.now.withLock { $0 } } }
        func advance(_ seconds: Double) { now.withLock { $0 += seconds } }
    }

    func push(_ store: MetricStore, job: String, at time: Double) throws {
        let grouping = GroupingKey(labels: [("job", job)])
        let parsed = try ExpositionParser.parse("# TYPE up_total counter\nup_total 1\n", grouping: grouping)
        try store.push(parsed, to: grouping, method: .post, now: time)
    }

    @Test("Groups older than the TTL go, younger ones stay, and the counter counts them")
    func sweep() throws {
        let clock = ManualClock()
        let store = MetricStore()
        let metrics = GatewayMetrics(version: "test")
        let service = SeriesExpiryService(
            store: store, metrics: metrics, ttl: .seconds(90), clock: clock.read, logger: Logger(label: "test"))
        try push(store, job: "old", at: clock.read())
        clock.advance(60)
        try push(store, job: "young", at: clock.read())
        #expect(service.sweep() == 0)
        clock.advance(31)
        #expect(service.sweep() == 1)
        #expect(store.groupCount == 1)
        #expect(store.seriesCount == 1)
        #expect(metrics.expiredGroups.load(ordering: .relaxed) == 1)
        // A push refreshes the group's age.
        try push(store, job: "young", at: clock.read())
        clock.advance(89)
        #expect(service.sweep() == 0)
        clock.advance(2)
        #expect(service.sweep() == 1)
        #expect(store.groupCount == 0)
        #expect(metrics.expiredGroups.load(ordering: .relaxed) == 2)
    }

    @Test("The sweep interval is a tenth of the TTL, within 100 ms and 10 s")
    func interval() {
        func interval(_ ttl: Duration) -> Duration {
            SeriesExpiryService(
                store: MetricStore(), metrics: GatewayMetrics(version: "test"), ttl: ttl,
                clock: { 0 }, logger: Logger(label: "test")
            ).interval
        }
        #expect(interval(.seconds(2)) == .milliseconds(200))
        #expect(interval(.milliseconds(500)) == .milliseconds(100))
        #expect(interval(.seconds(3600)) == .seconds(10))
    }
}
