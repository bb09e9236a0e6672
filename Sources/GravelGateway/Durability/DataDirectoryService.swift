import Logging
import NIOPosix
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs `--data-dir`: replays it at start-up (the HTTP server already answers `/-/healthy`;
/// pushes and `/-/ready` get 503 until the replay is done), snapshots periodically, after
/// `snapshotLogBytes` of log, and on graceful shutdown after the HTTP server stopped, and
/// recovers from failed log writes.
final class DataDirectoryService: Service, Sendable {
    struct Settings: Sendable {
        var directory: String
        var snapshotInterval: Duration = .seconds(300)
        var snapshotLogBytes = 256 << 20
        var acceptCorruption = false
        var idempotencyWindow = 600.0
    }

    /// How often a disk that failed is tried again.
    static let probeInterval = Duration.seconds(1)

    let settings: Settings
    let store: MetricStore
    let log: WriteAheadLog
    let metrics: WALMetrics
    let logger: Logger
    let ready = Atomic<Bool>(false)
    let stopping = Atomic<Bool>(false)
    /// Serialises snapshot writing and file deletion with rebuilds, which read the files.
    let files = Mutex<(lastSnapshot: UInt64, previousSnapshot: UInt64)>((0, 0))
    /// Blocking file work (replay, snapshots) runs here, off the HTTP and async threads.
    let worker: NIOThreadPool

    init(settings: Settings, store: MetricStore, log: WriteAheadLog, metrics: WALMetrics, logger: Logger) {
        self.settings = settings
        self.store = store
        self.log = log
        self.metrics = metrics
        self.logger = logger
        self.worker = NIOThreadPool(numberOfThreads: 1)
        worker.start()
        store.refuseChanges("the gateway is replaying its log (--data-dir); retry in a moment")
    }

    var isReady: Bool { ready.load(ordering: .acquiring) }

    func run() async throws {
        try DataDirectory.create(settings.directory)
        try lockDirectory()
        let started = ContinuousClock.now
        let recovery = Recovery(
            directory: settings.directory, acceptCorruption: settings.acceptCorruption, repairTornTail: true,
            idempotencyWindow: settings.idempotencyWindow, logger: logger)
        let (persisted, report) = try await worker.runIfActive { try recovery.run() }
        store.install(persisted)
        log.resume(after: persisted.sequence)
        metrics.logBytes.store(report.segmentBytes, ordering: .relaxed)
        log.failureHandler.withLock { $0 = { [self] error, tickets in self.writeFailed(error, tickets) } }
        files.withLock { $0 = (report.snapshotSequence, report.snapshotSequence) }
        store.refuseChanges(nil)
        ready.store(true, ordering: .releasing)
        logger.info(
            "data directory replayed; ready",
            metadata: [
                "dir": "\(settings.directory)", "snapshot": "\(report.snapshot ?? "none")", "records": "\(report.records)",
                "series": "\(store.seriesCount)", "seconds": "\(started.duration(to: .now))",
                "torn_bytes": "\(report.truncatedBytes)", "lost_bytes": "\(report.lostBytes)",
            ])
        var lastSnapshot = ContinuousClock.now
        // A replayed log is folded into a snapshot at once, so the next start is fast.
        var due = report.records > 0
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            if due || lastSnapshot.duration(to: .now) >= settings.snapshotInterval || log.bytesSinceSnapshot >= settings.snapshotLogBytes {
                await snapshot(reason: due ? "replay" : "periodic")
                lastSnapshot = .now
                due = false
            }
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: min(self.settings.snapshotInterval, .seconds(1))) }
            } catch {
                break
            }
        }
        // The HTTP server stopped before this service (it comes later in the service list):
        // no change can arrive any more.
        stopping.store(true, ordering: .relaxed)
        await snapshot(reason: "shutdown")
        await log.close()
        try? await worker.shutdownGracefully()
    }

    /// Held for the life of the process: two gateways appending to one log would corrupt it.
    let lock = Mutex<DataFile?>(nil)

    func lockDirectory() throws(DurabilityError) {
        let path = settings.directory + "/lock"
        let file = try DataFile(path: path, flags: O_RDWR | O_CREAT)
        guard flock(file.fd, LOCK_EX | LOCK_NB) == 0 else {
            throw DurabilityError(
                kind: .io(errno: errno),
                message: "another process holds \(path) (\(String(cString: strerror(errno)))): one gravel-gateway per --data-dir")
        }
        lock.withLock { $0 = file }
    }

    /// Writes a snapshot of everything durable, then deletes what the previous one made redundant.
    func snapshot(reason: String) async {
        guard let copy = store.persistedCopy() else {
            logger.warning("snapshot skipped: the log cannot be written", metadata: ["reason": "\(reason)"])
            return
        }
        let (persisted, pending) = copy
        // A snapshot must not hold a change that might still fail to reach the log.
        if let pending {
            do throws(DurabilityError) {
                try await pending.wait()
            } catch {
                return
            }
        }
        if persisted.sequence == files.withLock({ $0.lastSnapshot }), reason != "replay" { return }
        _ = log.takeBytesSinceSnapshot()
        let started = ContinuousClock.now
        let directory = settings.directory
        do {
            let size = try await worker.runIfActive { [self] in
                try files.withLock { snapshots throws(DurabilityError) -> Int in
                    let size = try SnapshotFile.write(persisted, directory: directory)
                    snapshots.previousSnapshot = snapshots.lastSnapshot
                    snapshots.lastSnapshot = persisted.sequence
                    try deleteRedundant(keepingLogAfter: snapshots.previousSnapshot, snapshot: persisted.sequence)
                    return size
                }
            }
            metrics.snapshots.add(1, ordering: .relaxed)
            logger.info(
                "snapshot written",
                metadata: [
                    "reason": "\(reason)", "sequence": "\(persisted.sequence)", "bytes": "\(size)",
                    "groups": "\(persisted.groups.count)", "seconds": "\(started.duration(to: .now))",
                ])
        } catch {
            logger.error("snapshot failed; the log keeps every change", metadata: ["reason": "\(reason)", "error": "\(error)"])
        }
    }

    /// Keeps the newest two snapshots and the log after the older of them: if the newest
    /// snapshot is damaged, start-up falls back to the older one and replays more.
    func deleteRedundant(keepingLogAfter sequence: UInt64, snapshot newest: UInt64) throws(DurabilityError) {
        let names = try DataDirectory.list(settings.directory)
        for (name, covered) in DataFileName.snapshots(in: names) where covered < sequence && covered != newest {
            try DataDirectory.remove(settings.directory + "/" + name)
        }
        let segments = DataFileName.segments(in: names)
        for (index, segment) in segments.enumerated() where index + 1 < segments.count {
            // Every record of this segment is below the next segment's first sequence.
            guard segments[index + 1].firstSequence <= sequence + 1 else { break }
            let path = settings.directory + "/" + segment.name
            let size = (try? DataFile(path: path, flags: O_RDONLY).size()) ?? 0
            try DataDirectory.remove(path)
            metrics.logBytes.add(-size, ordering: .relaxed)
        }
        try DataDirectory.sync(settings.directory)
    }

    // MARK: - Failed writes

    /// On the log writer's thread, after a write or sync failed: no change that is not on
    /// disk may stay visible as accepted. Changes are refused, every waiting request gets its
    /// 503, the state is rebuilt from disk (so a 503 means "not applied" and a retry counts
    /// once), and changes resume once a test write to the directory succeeds.
    func writeFailed(_ error: DurabilityError, _ batch: [DurabilityTicket]) {
        let reason = "the data directory cannot be written (\(error)); the push was not applied, retry later"
        let queued: [DurabilityTicket] = store.state.withLock { state in
            state.unavailable = reason
            return log.takePending()
        }
        for ticket in batch + queued { ticket.complete(error) }
        logger.error(
            "log write failed; refusing changes until the data directory can be written",
            metadata: [
                "error": "\(error)", "failed_changes": "\(batch.count + queued.count)",
            ])
        let recovery = Recovery(
            directory: settings.directory, acceptCorruption: true, repairTornTail: false,
            idempotencyWindow: settings.idempotencyWindow, logger: logger)
        do {
            let (persisted, _) = try files.withLock { _ throws(DurabilityError) in try recovery.run() }
            store.install(persisted)
            log.resume(after: persisted.sequence)
        } catch {
            logger.critical("cannot rebuild the state from the data directory; restart the gateway", metadata: ["error": "\(error)"])
            return
        }
        while !stopping.load(ordering: .relaxed) {
            if probe() {
                store.refuseChanges(nil)
                logger.notice("data directory writable again; accepting changes")
                return
            }
            usleep(UInt32(Self.probeInterval.components.seconds) * 1_000_000)
        }
    }

    /// Whether a small file can be written and synced in the data directory.
    func probe() -> Bool {
        let path = settings.directory + "/probe" + DataFileName.temporarySuffix
        defer { try? DataDirectory.remove(path) }
        do throws(DurabilityError) {
            let file = try DataFile(path: path, flags: O_WRONLY | O_CREAT | O_TRUNC)
            try file.write([UInt8](repeating: 0, count: 256 << 10), at: 0)
            try file.syncData()
            return true
        } catch {
            return false
        }
    }
}
