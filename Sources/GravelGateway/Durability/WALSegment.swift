/// Names of the data directory's files: log segments `wal-<first sequence>.log` and
/// snapshots `snapshot-<last sequence>.snap`, with the number zero-padded to 20 digits so
/// name order is sequence order.
enum DataFileName {
    static let segmentPrefix = "wal-"
    static let segmentSuffix = ".log"
    static let snapshotPrefix = "snapshot-"
    static let snapshotSuffix = ".snap"
    static let temporarySuffix = ".tmp"

    static func segment(firstSequence: UInt64) -> String { segmentPrefix + padded(firstSequence) + segmentSuffix }
    static func snapshot(sequence: UInt64) -> String { snapshotPrefix + padded(sequence) + snapshotSuffix }

    static func padded(_ n: UInt64) -> String {
        let digits = String(n)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits
    }

    /// The number in a name of the given kind, or nil for other files.
    static func sequence(in name: String, prefix: String, suffix: String) -> UInt64? {
        guard name.hasPrefix(prefix), name.hasSuffix(suffix), name.utf8.count == prefix.utf8.count + 20 + suffix.utf8.count else {
            return nil
        }
        return UInt64(name.dropFirst(prefix.count).dropLast(suffix.count))
    }

    /// Segment names with their first sequence, oldest first.
    static func segments(in names: [String]) -> [(name: String, firstSequence: UInt64)] {
        names.compactMap { name in sequence(in: name, prefix: segmentPrefix, suffix: segmentSuffix).map { (name, $0) } }
            .sorted { $0.firstSequence < $1.firstSequence }
    }

    /// Snapshot names with their sequence, newest first.
    static func snapshots(in names: [String]) -> [(name: String, sequence: UInt64)] {
        names.compactMap { name in sequence(in: name, prefix: snapshotPrefix, suffix: snapshotSuffix).map { (name, $0) } }
            .sorted { $0.sequence > $1.sequence }
    }
}
