import Logging
import Shared

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Rebuilds the store's state from a data directory: the newest valid snapshot, then every
/// log record after it, each applied at its own arrival time through the same parser and
/// merge as a live push, so pebble windows and `push_time_seconds` come back exactly.
struct Recovery {
    struct Report: Sendable {
        var snapshot: String?
        /// The sequence the loaded snapshot covers (0 without one).
        var snapshotSequence: UInt64 = 0
        var records = 0
        var refusedRecords = 0
        var truncatedBytes = 0
        var lostBytes = 0
        var segmentBytes = 0
    }

    let directory: String
    /// `--wal-accept-corruption`: skip damaged records instead of stopping.
    let acceptCorruption: Bool
    /// At start-up a torn tail is cut off the newest segment; a rebuild after a failed write
    /// only reads (the writer already cut the failed batch off).
    let repairTornTail: Bool
    let idempotencyWindow: Double
    let logger: Logger

    /// The recovered state, with the last sequence it covers.
    func run() throws(DurabilityError) -> (MetricStore.Persisted, Report) {
        var report = Report()
        let names = try DataDirectory.list(directory)
        if repairTornTail {
            for name in names where name.hasSuffix(DataFileName.temporarySuffix) {
                // A snapshot that was being written when the process stopped.
                try DataDirectory.remove(directory + "/" + name)
            }
        }
        // A replay re-applies what was accepted under the limits of its time.
        let store = MetricStore(
            rules: PushRules(maxSeries: .max, maxGroups: .max), logger: logger, idempotencyWindow: idempotencyWindow)
        var covered: UInt64 = 0
        for (name, _) in DataFileName.snapshots(in: names) {
            let file = try DataFile(path: directory + "/" + name, flags: O_RDONLY)
            do throws(DurabilityError) {
                let persisted = try SnapshotFile.decode(try file.readAll(), name: name)
                store.install(persisted)
                covered = persisted.sequence
                report.snapshot = name
                report.snapshotSequence = covered
                break
            } catch {
                // The older snapshot's log is kept until a newer snapshot has a successor.
                guard acceptCorruption || name != DataFileName.snapshots(in: names).last?.name else { throw error }
                logger.error("snapshot damaged; trying an older one", metadata: ["file": "\(name)", "error": "\(error)"])
            }
        }
        let segments = DataFileName.segments(in: names)
        var last = covered
        for (index, segment) in segments.enumerated() {
            let path = directory + "/" + segment.name
            let file = try DataFile(path: path, flags: repairTornTail ? O_RDWR : O_RDONLY)
            let bytes = try file.readAll()
            var kept = bytes.count
            let read = WALReader.read(bytes, skipDamage: acceptCorruption)
            for damage in read.damage {
                let newest = index == segments.count - 1
                if newest, damage.resumesAt == nil {
                    let torn = bytes.count - damage.offset
                    report.truncatedBytes += torn
                    logger.warning(
                        "log ends in a torn record (the process stopped mid-write); cutting it off",
                        metadata: [
                            "file": "\(segment.name)", "offset": "\(damage.offset)", "bytes": "\(torn)",
                        ])
                    if repairTornTail {
                        try file.truncate(to: damage.offset)
                        try file.syncData()
                        kept = damage.offset
                    }
                } else if acceptCorruption {
                    let lost = (damage.resumesAt ?? bytes.count) - damage.offset
                    report.lostBytes += lost
                    logger.error(
                        "log damaged; skipping the damaged bytes (--wal-accept-corruption)",
                        metadata: [
                            "file": "\(segment.name)", "offset": "\(damage.offset)", "bytes": "\(lost)", "reason": "\(damage.reason)",
                        ])
                } else {
                    throw DurabilityError(
                        kind: .corruption,
                        message: "log segment \(path) is damaged at byte \(damage.offset) (\(damage.reason)) and "
                            + (damage.resumesAt.map { "valid records follow at byte \($0)" } ?? "more segments follow")
                            + ": acknowledged pushes after it would be lost. Restore the data directory from a backup, or "
                            + "start with --wal-accept-corruption to drop the damaged records and keep the rest")
                }
            }
            if repairTornTail, index == segments.count - 1, read.records.isEmpty {
                // Created, but its first record never completed: its name is the next
                // record's, so it must go before the writer opens a segment of that name.
                try DataDirectory.remove(path)
                continue
            }
            report.segmentBytes += kept
            for record in read.records where record.sequence > covered {
                if !apply(record, to: store) { report.refusedRecords += 1 }
                report.records += 1
                last = max(last, record.sequence)
            }
        }
        var persisted = store.persisted()
        persisted.sequence = last
        return (persisted, report)
    }

    /// Applies one record as the live path did; false when it no longer applies (only after
    /// accepted damage: records are logged only once they applied).
    func apply(_ record: WALRecord, to store: MetricStore) -> Bool {
        let claim = record.idempotencyKey.map {
            IdempotencyClaim(
                key: $0, operation: record.operation, grouping: record.grouping, contentType: record.contentType,
                contentEncoding: record.contentEncoding, body: record.body)
        }
        do throws(PushFailure) {
            switch record.operation {
            case .post, .put:
                let push = try PushBody.parse(
                    record.body, contentEncoding: record.contentEncoding, contentType: record.contentType,
                    grouping: record.grouping, limit: WALFrame.maximumPayloadBytes, limitName: "the log's record limit",
                    limits: .replay)
                try store.push(
                    push, to: record.grouping, method: record.operation == .put ? .put : .post, now: record.arrival,
                    claim: claim, record: record)
            case .delete:
                try store.delete(record.grouping, now: record.arrival, claim: claim, record: record)
            case .expire:
                _ = store.expire(olderThan: record.expiryCutoff, sequence: record.sequence)
            case .wipe:
                _ = try store.wipe(now: record.arrival, record: record)
            }
            return true
        } catch {
            logger.warning(
                "log record no longer applies; skipped",
                metadata: [
                    "sequence": "\(record.sequence)", "group": "\(record.grouping)", "reason": "\(error.message)",
                ])
            return false
        }
    }
}
