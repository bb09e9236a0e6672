import NIOCore
import Shared
import Synchronization
import Testing

@testable import GravelGateway

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

@Suite("Durability: snapshots, recovery, idempotency")
struct DurabilitySnapshotTests {
    /// A store holding every kind of value: plain counters and gauges, histograms, summaries,
    /// info families, and pebble windows both exact and sketching.
    func populated() async throws -> MetricStore {
        let store = MetricStore()
        try await livePush(
            store,
            """
            # HELP c_total Requests.
            # TYPE c_total counter
            c_total{code="200"} 3
            c_total{code="500"} 1
            # TYPE g gauge
            g 2.5
            # TYPE h histogram
            h_bucket{le="0.1"} 1
            h_bucket{le="+Inf"} 4
            h_sum 7.25
            h_count 4
            # TYPE s summary
            s{quantile="0.5"} 0.2
            s_sum 3
            s_count 9
            # TYPE build_info gauge
            build_info{clearmode="family",version="1.2"} 1

            """, job: "a", now: 1000)
        for i in 0..<300 {
            let t = 1000 + Double(i) * 0.7
            try await livePush(
                store,
                """
                lat{clearmode="mean5m"} \(i % 17)
                lat_p99{clearmode="p99_1h"} \(Double(i) * 1.5)
                seen{clearmode="last30s"} \(i)

                """, job: "pebbles", now: t)
        }
        // Past the exact limit the p99 window switches to sketches.
        let grouping = GroupingKey(labels: [("job", "sketch")])
        var observations: [ParsedSeries] = []
        for i in 0..<10_050 {
            observations.append(
                ParsedSeries(
                    key: LabelKey(labels: [("job", "sketch")]), mode: .pebble(PebbleSpec("p99_10m")!), value: .scalar(Double(i)),
                    timestampMs: 1_200_000 + Int64(i)))
        }
        try store.push(
            ParsedPush(families: [ParsedFamily(name: "big", type: .gauge, series: observations)]), to: grouping, method: .post,
            now: 1300, claim: IdempotencyClaim(key: "k-sketch", digest: Array(repeating: 7, count: 32)))
        return store
    }

    func roundTrip(_ store: MetricStore) throws -> MetricStore {
        let bytes = SnapshotFile.encode(store.persisted())
        let loaded = MetricStore()
        loaded.install(try SnapshotFile.decode(bytes, name: "test"))
        return loaded
    }

    @Test("A snapshot loads into a store that scrapes byte for byte the same, now and as windows roll on")
    func snapshotRoundTrip() async throws {
        let store = try await populated()
        let loaded = try roundTrip(store)
        for now in [1300.0, 1310, 1500, 1700, 4000] {
            #expect(scrape(loaded, now: now) == scrape(store, now: now))
        }
        #expect(scrape(store, now: 1300).contains("big{job=\"sketch\"}"))
        #expect(loaded.seriesCount == store.seriesCount)
        #expect(loaded.groupCount == store.groupCount)
        // And the loaded state merges like the original.
        for s in [store, loaded] {
            try await livePush(s, "# TYPE c_total counter\nc_total{code=\"200\"} 2\n", job: "a", now: 1320)
            try await livePush(s, "lat{clearmode=\"mean5m\"} 100\n", job: "pebbles", now: 1321)
        }
        #expect(scrape(loaded, now: 1330) == scrape(store, now: 1330))
        // The indexes come back too: another group may not take over a stored series.
        await #expect(throws: PushFailure.self) { try await livePush(loaded, "g 1\n", job: "pebbles", now: 1330) }
        #expect(loaded.state.withLock { $0.idempotency.count } == 1)
    }

    @Test("A plain series costs under 100 bytes in a snapshot")
    func compact() throws {
        let store = MetricStore()
        var body = "# TYPE c_total counter\n"
        for i in 0..<10_000 { body += "c_total{instance=\"host-\(i % 100)\",worker=\"\(i)\"} \(i)\n" }
        let grouping = GroupingKey(labels: [("job", "bench")])
        try store.push(try ExpositionParser.parse(body, grouping: grouping), to: grouping, method: .post, now: 1)
        let size = SnapshotFile.encode(store.persisted()).count
        #expect(size / 10_000 < 100)
    }

    @Test("A damaged snapshot is refused, never half-loaded")
    func damagedSnapshot() async throws {
        let bytes = SnapshotFile.encode(try await populated().persisted())
        for position in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 200)) {
            var damaged = bytes
            damaged[position] ^= 0x10
            #expect(throws: DurabilityError.self) { try SnapshotFile.decode(damaged, name: "s") }
        }
        #expect(throws: DurabilityError.self) { try SnapshotFile.decode(Array(bytes.dropLast(1)), name: "s") }
    }

    func recover(_ dir: String, accept: Bool = false) throws(DurabilityError) -> (MetricStore, Recovery.Report) {
        let (persisted, report) = try Recovery(
            directory: dir, acceptCorruption: accept, repairTornTail: true, idempotencyWindow: 600, logger: quietLogger
        ).run()
        let store = MetricStore()
        store.install(persisted)
        return (store, report)
    }

    func writeSegment(_ dir: String, _ bytes: [UInt8], first: UInt64 = 1) throws {
        let file = try DataFile(path: dir + "/" + DataFileName.segment(firstSequence: first), flags: O_WRONLY | O_CREAT | O_TRUNC)
        try file.write(bytes, at: 0)
    }

    @Test("Start-up cuts a torn tail off the newest segment at every offset of its last record")
    func recoveryTornTail() async throws {
        try await withTemporaryDirectory { dir in
            let (bytes, starts) = frames((1...3).map { record(UInt64($0), "c_total{w=\"\($0 % 2)\"} 1\n") })
            for cut in starts[2]..<bytes.count {
                try writeSegment(dir, Array(bytes[..<cut]))
                let (store, report) = try recover(dir)
                #expect(report.records == 2)
                #expect(report.truncatedBytes == cut - starts[2])
                #expect(scrape(store, now: 1001).contains("c_total{job=\"j\",w=\"0\"} 1\n"))
                #expect(scrape(store, now: 1001).contains("c_total{job=\"j\",w=\"1\"} 1\n"))
                let size = try DataFile(path: dir + "/" + DataFileName.segment(firstSequence: 1), flags: O_RDONLY).size()
                #expect(size == starts[2])
            }
        }
    }

    @Test("Damage in the middle stops start-up naming the file and offset, unless the loss is accepted")
    func recoveryCorruption() async throws {
        try await withTemporaryDirectory { dir in
            let (bytes, starts) = frames((1...3).map { record(UInt64($0), "c_total{w=\"\($0)\"} 1\n") })
            var damaged = bytes
            damaged[starts[1] + 12] ^= 0x04
            try writeSegment(dir, damaged)
            do throws(DurabilityError) {
                _ = try recover(dir)
                Issue.record("a damaged log must stop start-up")
            } catch {
                #expect(error.kind == .corruption)
                #expect(error.message.contains(DataFileName.segment(firstSequence: 1)))
                #expect(error.message.contains("byte \(starts[1])"))
            }
            let (store, report) = try recover(dir, accept: true)
            #expect(report.records == 2)
            #expect(report.lostBytes == starts[2] - starts[1])
            #expect(!scrape(store, now: 1001).contains("w=\"2\""))
            #expect(scrape(store, now: 1001).contains("w=\"3\""))
        }
    }

    @Test("A damaged older segment is corruption even when nothing follows it within the segment")
    func damagedOlderSegment() async throws {
        try await withTemporaryDirectory { dir in
            let (first, _) = frames([record(1, "a 1\n"), record(2, "b 1\n")])
            try writeSegment(dir, Array(first.dropLast(3)), first: 1)
            try writeSegment(dir, frames([record(3, "c 1\n")]).bytes, first: 3)
            #expect(throws: DurabilityError.self) { try recover(dir) }
        }
    }

    @Test("The log replays after the snapshot it follows; records the snapshot covers are skipped")
    func snapshotThenLog() async throws {
        try await withTemporaryDirectory { dir in
            let metrics = WALMetrics()
            let log = WriteAheadLog(directory: dir, metrics: metrics, logger: quietLogger)
            let store = MetricStore(journal: log)
            for i in 0..<20 { try await livePush(store, "c_total 1\np{clearmode=\"max5m\"} \(i)\n", now: 1000 + Double(i)) }
            let (persisted, pending) = store.persistedCopy()!
            if let pending { try await pending.wait() }
            try SnapshotFile.write(persisted, directory: dir)
            for i in 20..<30 { try await livePush(store, "c_total 1\np{clearmode=\"max5m\"} \(i)\n", now: 1000 + Double(i)) }
            try store.delete(
                GroupingKey(labels: [("job", "gone")]), now: 1031,
                record: WALRecord(operation: .delete, grouping: GroupingKey(labels: [("job", "gone")]), arrival: 1031))
            await log.close()
            let (recovered, report) = try recover(dir)
            #expect(report.snapshot == DataFileName.snapshot(sequence: persisted.sequence))
            #expect(report.records == 11)
            #expect(scrape(recovered, now: 1040) == scrape(store, now: 1040))
            #expect(scrape(recovered, now: 1040).contains("c_total{job=\"j\"} 30\n"))
        }
    }

    @Test("An Idempotency-Key applies once, conflicts on another body, survives a replay, and expires after its window")
    func idempotency() async throws {
        try await withTemporaryDirectory { dir in
            let log = WriteAheadLog(directory: dir, metrics: WALMetrics(), logger: quietLogger)
            let store = MetricStore(journal: log, idempotencyWindow: 600)
            try await livePush(store, "c_total 1\n", now: 1000, key: "batch-1")
            try await livePush(store, "c_total 1\n", now: 1001, key: "batch-1")
            try await livePush(store, "c_total 1\n", now: 1002, key: "batch-2")
            #expect(scrape(store, now: 1003).contains("c_total{job=\"j\"} 2\n"))
            await #expect(throws: PushFailure.self) { try await livePush(store, "c_total 5\n", now: 1003, key: "batch-1") }
            #expect(scrape(store, now: 1003).contains("c_total{job=\"j\"} 2\n"))
            await log.close()

            let (recovered, _) = try recover(dir)
            let (persisted, _) = recovered.persistedCopy()!
            let reopened = MetricStore(idempotencyWindow: 600)
            reopened.install(persisted)
            try await livePush(reopened, "c_total 1\n", now: 1100, key: "batch-2")
            #expect(scrape(reopened, now: 1100).contains("c_total{job=\"j\"} 2\n"))
            do {
                try await livePush(reopened, "c_total 5\n", now: 1100, key: "batch-2")
                Issue.record("a reused key with another body must conflict")
            } catch let error as PushFailure {
                #expect(error.code == .idempotencyKeyReused)
            }
            // After the window the key is forgotten and the same push counts again.
            try await livePush(reopened, "c_total 1\n", now: 1000 + 601, key: "batch-1")
            #expect(scrape(reopened, now: 1700).contains("c_total{job=\"j\"} 3\n"))
        }
    }
}
