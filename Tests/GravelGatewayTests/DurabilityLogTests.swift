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

@Suite("Durability: CRC-32C and log framing")
struct DurabilityLogTests {
    @Test("CRC-32C matches the published check values")
    func crcVectors() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8]()) == 0)
        // RFC 3720 (iSCSI) appendix B.4.
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum(Array(0..<32)) == 0x46DD_794E)
    }

    @Test("CRC-32C over pieces equals CRC-32C over the whole, for every split")
    func crcIncremental() {
        let bytes = (0..<257).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let whole = CRC32C.checksum(bytes)
        for split in 0...bytes.count {
            let a = bytes[..<split].withUnsafeBytes { CRC32C.update(0, $0) }
            let b = bytes[split...].withUnsafeBytes { CRC32C.update(a, $0) }
            #expect(b == whole)
        }
    }

    @Test("Records of every operation survive framing and reading")
    func roundTrip() throws {
        var expire = record(4, "", operation: .expire)
        expire.expiryCutoff = 123.5
        var put = record(2, "b 2\n", job: "x/y", key: "k-1", operation: .put)
        put.contentEncoding = "gzip"
        let records = [record(1, "a 1\n"), put, record(3, "", operation: .delete), expire]
        let read = WALReader.read(frames(records).bytes, skipDamage: false)
        #expect(read.damage.isEmpty)
        #expect(read.records.count == 4)
        #expect(read.records.map(\.sequence) == [1, 2, 3, 4])
        #expect(read.records.map(\.operation) == [.post, .put, .delete, .expire])
        #expect(read.records[1].grouping == GroupingKey(labels: [("job", "x/y")]))
        #expect(read.records[1].idempotencyKey == "k-1")
        #expect(read.records[1].contentEncoding == "gzip")
        #expect(read.records[1].body == ByteBuffer(string: "b 2\n"))
        #expect(read.records[1].arrival == records[1].arrival)
        #expect(read.records[3].expiryCutoff == 123.5)
    }

    @Test("A log cut at any offset of its last record reads as a torn tail after the records before it")
    func tornTail() {
        let (bytes, starts) = frames((1...3).map { record(UInt64($0), "c_total{w=\"\($0)\"} 1\n") })
        let lastStart = starts[2]
        for cut in lastStart..<bytes.count {
            let read = WALReader.read(Array(bytes[..<cut]), skipDamage: false)
            #expect(read.records.map(\.sequence) == [1, 2])
            #expect(read.validEnd == lastStart)
            if cut == lastStart {
                #expect(read.damage.isEmpty)
            } else {
                #expect(read.damage == [WALReader.Damage(offset: lastStart, resumesAt: nil, reason: read.damage.first?.reason ?? "")])
            }
        }
    }

    @Test("A flipped bit in a middle record is damage with valid records after it, never a torn tail")
    func bitFlip() {
        let (bytes, starts) = frames((1...3).map { record(UInt64($0), "c_total{w=\"\($0)\"} 1\n") })
        for position in starts[1]..<starts[2] {
            for bit in [0, 3, 7] {
                var damaged = bytes
                damaged[position] ^= UInt8(1 << bit)
                let strict = WALReader.read(damaged, skipDamage: false)
                #expect(strict.records.map(\.sequence) == [1])
                #expect(strict.damage.count == 1)
                #expect(strict.damage.first?.offset == starts[1])
                #expect(strict.damage.first?.resumesAt == starts[2])
                let lenient = WALReader.read(damaged, skipDamage: true)
                #expect(lenient.records.map(\.sequence) == [1, 3])
            }
        }
    }

    @Test("A zero-filled tail (a file extended but not written) is a torn tail")
    func zeroTail() {
        let (bytes, _) = frames([record(1, "a 1\n")])
        let read = WALReader.read(bytes + [UInt8](repeating: 0, count: 4096), skipDamage: false)
        #expect(read.records.count == 1)
        #expect(read.damage.first?.resumesAt == nil)
    }

    @Test("Group commit: concurrent pushes are all acknowledged, in fewer syncs than pushes, and replay to the same counts")
    func groupCommit() async throws {
        try await withTemporaryDirectory { dir in
            let metrics = WALMetrics()
            let log = WriteAheadLog(directory: dir, metrics: metrics, logger: quietLogger)
            let store = MetricStore(journal: log)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<16 {
                    group.addTask {
                        for _ in 0..<25 { try await livePush(store, "c_total{worker=\"\(worker)\"} 1\n", now: 2000) }
                    }
                }
                try await group.waitForAll()
            }
            await log.close()
            let batches = Int(metrics.batchSize.value.count)
            #expect(metrics.batchSize.value.sum == 400)
            #expect(batches >= 1)
            #expect(metrics.fsyncSeconds.value.count == Double(batches))
            let (persisted, report) = try Recovery(
                directory: dir, acceptCorruption: false, repairTornTail: true, idempotencyWindow: 600, logger: quietLogger
            ).run()
            #expect(report.records == 400)
            let replayed = MetricStore()
            replayed.install(persisted)
            #expect(scrape(replayed, now: 2000) == scrape(store, now: 2000))
            #expect(scrape(replayed, now: 2000).contains("c_total{job=\"j\",worker=\"7\"} 25\n"))
        }
    }

    @Test("Records queued while a sync runs are written and synced together as one batch")
    func batching() async throws {
        try await withTemporaryDirectory { dir in
            let metrics = WALMetrics()
            let log = WriteAheadLog(directory: dir, metrics: metrics, logger: quietLogger)
            // Holding the segment lock stalls the writer as a slow sync would.
            let tickets = log.output.withLock { _ in
                let tickets = (1...50).map { _ in log.append(record(0, "a 1\n")) }
                usleep(50_000)
                return tickets
            }
            for ticket in tickets { try await ticket.wait() }
            #expect(tickets.map(\.sequence) == Array(1...50))
            #expect(metrics.batchSize.value.sum == 50)
            #expect(metrics.batchSize.value.count <= 2)
            await log.close()
        }
    }
}
