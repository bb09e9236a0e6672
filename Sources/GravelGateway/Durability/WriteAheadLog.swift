import Logging
import NIOPosix
import Shared
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The write-ahead log of `--data-dir`, written by group commit.
///
/// Requests append records under the store's lock (so log order is apply order) and then
/// wait on their tickets outside it. One writer at a time (a job on a dedicated thread,
/// never the HTTP threads) takes everything queued, writes it with one `pwrite`, syncs once
/// with `fdatasync`, and completes every ticket of the batch: while one sync runs, the
/// next batch gathers, so throughput grows with concurrency instead of being one sync per push.
final class WriteAheadLog: Sendable {
    /// A segment is closed once it passes this size; a larger record still fits in one.
    static let segmentBytes = 64 << 20

    struct Queue {
        var pending: [(record: WALRecord, ticket: DurabilityTicket)] = []
        var draining = false
        var nextSequence: UInt64 = 1
    }

    struct Output {
        var file: DataFile?
        var size = 0
        var bytesSinceSnapshot = 0
    }

    let directory: String
    let metrics: WALMetrics
    let logger: Logger
    let thread: NIOThreadPool
    let queue = Mutex(Queue())
    let output = Mutex(Output())
    /// Called on the writer's thread after a failed write or sync, with the batch's tickets
    /// not yet completed: it must fail them and everything queued, and make the store consistent.
    let failureHandler = Mutex<(@Sendable (DurabilityError, [DurabilityTicket]) -> Void)?>(nil)

    init(directory: String, metrics: WALMetrics, logger: Logger) {
        self.directory = directory
        self.metrics = metrics
        self.logger = logger
        self.thread = NIOThreadPool(numberOfThreads: 1)
        thread.start()
    }

    /// After replay: new records continue the sequence and go to a new segment.
    func resume(after sequence: UInt64) {
        queue.withLock { $0.nextSequence = max($0.nextSequence, sequence + 1) }
        output.withLock { $0.file = nil }
    }

    /// Queues a record (the caller holds the store's lock); returns its ticket.
    func append(_ record: WALRecord) -> DurabilityTicket {
        var record = record
        let (ticket, start) = queue.withLock { q in
            record.sequence = q.nextSequence
            q.nextSequence += 1
            let ticket = DurabilityTicket(sequence: record.sequence)
            q.pending.append((record, ticket))
            defer { q.draining = true }
            return (ticket, !q.draining)
        }
        if start { thread.submit { _ in self.drain() } }
        return ticket
    }

    /// Takes the queued records without writing them (the failure path fails their tickets).
    func takePending() -> [DurabilityTicket] {
        queue.withLock { q in
            defer { q.pending.removeAll() }
            return q.pending.map(\.ticket)
        }
    }

    /// Bytes logged since the last call (the snapshot trigger).
    func takeBytesSinceSnapshot() -> Int {
        output.withLock { out in
            defer { out.bytesSinceSnapshot = 0 }
            return out.bytesSinceSnapshot
        }
    }

    var bytesSinceSnapshot: Int { output.withLock { $0.bytesSinceSnapshot } }

    /// Waits for the writer to finish and closes the segment.
    func close() async {
        try? await thread.shutdownGracefully()
        output.withLock { $0.file = nil }
    }

    func drain() {
        var frames: [UInt8] = []
        var payload = BinaryWriter(capacity: 4096)
        while true {
            let batch = queue.withLock { q in
                if q.pending.isEmpty { q.draining = false }
                defer { q.pending.removeAll(keepingCapacity: true) }
                return q.pending
            }
            guard let first = batch.first else { return }
            frames.removeAll(keepingCapacity: true)
            for (record, _) in batch {
                payload.bytes.removeAll(keepingCapacity: true)
                record.encode(into: &payload)
                WALFrame.append(payload: payload.bytes, to: &frames)
            }
            let started = ContinuousClock.now
            do {
                try write(frames, firstSequence: first.record.sequence)
            } catch {
                metrics.writeErrors.add(1, ordering: .relaxed)
                let handler = failureHandler.withLock { $0 }
                let tickets = batch.map(\.ticket)
                if let handler { handler(error, tickets) } else { for t in tickets { t.complete(error) } }
                continue
            }
            metrics.fsyncSeconds.observe(started.duration(to: .now).seconds)
            metrics.batchSize.observe(Double(batch.count))
            metrics.logBytes.add(frames.count, ordering: .relaxed)
            for (_, ticket) in batch { ticket.complete(nil) }
        }
    }

    /// Appends frames to the current segment (a new one when there is none or it is full)
    /// and syncs. On failure the segment is cut back to its last synced size and closed, so
    /// no record of the failed batch can be replayed, and the next batch opens a new segment.
    func write(_ frames: [UInt8], firstSequence: UInt64) throws(DurabilityError) {
        try output.withLock { out throws(DurabilityError) in
            if out.file == nil || out.size >= Self.segmentBytes {
                let path = directory + "/" + DataFileName.segment(firstSequence: firstSequence)
                let file = try DataFile(path: path, flags: O_WRONLY | O_CREAT | O_EXCL)
                // The new name must survive a power loss as surely as the records in it.
                do throws(DurabilityError) {
                    try DataDirectory.sync(directory)
                } catch {
                    try? DataDirectory.remove(path)
                    throw error
                }
                out.file = file
                out.size = 0
            }
            let file = out.file!
            do throws(DurabilityError) {
                try file.write(frames, at: out.size)
                try file.syncData()
            } catch {
                do throws(DurabilityError) {
                    try file.truncate(to: out.size)
                } catch let truncation {
                    logger.critical(
                        "cannot cut the log back after a failed write; records answered 503 may replay at start-up",
                        metadata: [
                            "file": "\(file.path)", "error": "\(truncation)",
                        ])
                }
                out.file = nil
                throw error
            }
            out.size += frames.count
            out.bytesSinceSnapshot += frames.count
        }
    }
}
