import Shared
import Synchronization

/// The log writer's own metrics: how long each sync took and how many records it made
/// durable, as `gravel_gateway_wal_fsync_seconds` and `gravel_gateway_wal_batch_size`.
final class WALMetrics: Sendable {
    /// A cumulative histogram with fixed bounds. Observed once per batch, so a lock is cheap.
    final class Histogram: Sendable {
        let bounds: [Double]
        let counts: Mutex<(perBucket: [Int], sum: Double)>

        init(bounds: [Double]) {
            self.bounds = bounds
            self.counts = Mutex(([Int](repeating: 0, count: bounds.count + 1), 0))
        }

        func observe(_ v: Double) {
            let i = bounds.firstIndex { v <= $0 } ?? bounds.count
            counts.withLock {
                $0.perBucket[i] += 1
                $0.sum += v
            }
        }

        var value: HistogramValue {
            let (perBucket, sum) = counts.withLock { $0 }
            var cumulative = 0.0
            var buckets: [Bucket] = []
            for (i, bound) in (bounds + [.infinity]).enumerated() {
                cumulative += Double(perBucket[i])
                buckets.append(Bucket(upperBound: bound, count: cumulative))
            }
            return HistogramValue(buckets: buckets, sum: sum)
        }
    }

    let fsyncSeconds = Histogram(bounds: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1])
    let batchSize = Histogram(bounds: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024])
    let writeErrors = Atomic<Int>(0)
    let snapshots = Atomic<Int>(0)
    let logBytes = Atomic<Int>(0)

    func render<W: ScrapeWriter>(into writer: inout W) {
        func histogram(_ name: String, _ help: String, _ h: Histogram) {
            let names = writer.names(family: name, type: .histogram)
            writer.writeHeader(metadataName: names.metadata, type: .histogram, help: help)
            writer.writeSeries(name: names.sample, type: .histogram, key: .empty, value: .histogram(h.value))
        }
        func scalar(_ name: String, _ type: MetricType, _ help: String, _ v: Int) {
            let names = writer.names(family: name, type: type)
            writer.writeHeader(metadataName: names.metadata, type: type, help: help)
            writer.writeSeries(name: names.sample, type: type, key: .empty, value: .scalar(Double(v)))
        }
        histogram("gravel_gateway_wal_batch_size", "Log records made durable by one sync (group commit).", batchSize)
        histogram("gravel_gateway_wal_fsync_seconds", "Time to write and sync one batch of log records.", fsyncSeconds)
        scalar("gravel_gateway_wal_segment_bytes", .gauge, "Bytes of log segments kept in --data-dir.", logBytes.load(ordering: .relaxed))
        scalar("gravel_gateway_wal_snapshots_total", .counter, "Snapshots written to --data-dir.", snapshots.load(ordering: .relaxed))
        scalar(
            "gravel_gateway_wal_write_errors_total", .counter, "Writes or syncs of the log that failed (pushes answered 503).",
            writeErrors.load(ordering: .relaxed))
    }
}
