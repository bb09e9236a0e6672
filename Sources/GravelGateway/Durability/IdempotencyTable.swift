import Crypto
import NIOCore
import Shared

/// What an `Idempotency-Key` header claims: this key stands for this exact request.
struct IdempotencyClaim: Sendable {
    static let maximumKeyBytes = 128

    let key: String
    /// SHA-256 of the method, the grouping key, the content headers and the body: a key reused
    /// for a different request is a client bug, answered 409 rather than silently ignored.
    let digest: [UInt8]

    init(key: String, digest: [UInt8]) {
        self.key = key
        self.digest = digest
    }

    init(
        key: String, operation: WALRecord.Operation, grouping: GroupingKey, contentType: String?, contentEncoding: String?, body: ByteBuffer
    ) {
        // Every field length-prefixed, so no two different requests feed the same bytes.
        var prefix = BinaryWriter()
        prefix.u8(operation.rawValue)
        prefix.blob(grouping.key.bytes)
        prefix.optionalString(contentType)
        prefix.optionalString(contentEncoding)
        prefix.count(body.readableBytes)
        var hasher = SHA256()
        prefix.bytes.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        body.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
        self.init(key: key, digest: Array(hasher.finalize()))
    }
}

/// The idempotency keys of applied changes, remembered for `--idempotency-window`.
///
/// Lives inside the store's state, under its lock, so checking a key and applying its push
/// are one step: two concurrent requests with one key apply once.
struct IdempotencyTable: Sendable {
    struct Entry: Sendable {
        var digest: [UInt8]
        /// Arrival of the change, seconds since the epoch.
        var arrival: Double
        /// The log ticket while the change may not be on disk yet: a repeat waits on it, so it
        /// is not answered 200 before the original is durable.
        var ticket: DurabilityTicket?
    }

    enum Lookup {
        case unknown
        case repeated(DurabilityTicket?)
        case conflict
    }

    private(set) var entries: [String: Entry] = [:]
    /// Keys in arrival order, for expiry; `head` is the first live position.
    private var order: [(arrival: Double, key: String)] = []
    private var head = 0

    var count: Int { entries.count }

    func lookup(_ claim: IdempotencyClaim) -> Lookup {
        guard let entry = entries[claim.key] else { return .unknown }
        return entry.digest == claim.digest ? .repeated(entry.ticket) : .conflict
    }

    mutating func insert(_ claim: IdempotencyClaim, arrival: Double, ticket: DurabilityTicket?) {
        entries[claim.key] = Entry(digest: claim.digest, arrival: arrival, ticket: ticket)
        order.append((arrival, claim.key))
    }

    /// Forgets keys that arrived before `cutoff`.
    mutating func expire(before cutoff: Double) {
        while head < order.count, order[head].arrival < cutoff {
            let (arrival, key) = order[head]
            // A key applied again after it expired has a newer entry; keep that one.
            if let entry = entries[key], entry.arrival == arrival { entries[key] = nil }
            head += 1
        }
        if head > 1024, head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
    }

    /// Live entries oldest first, for snapshots.
    var entriesInOrder: [(key: String, entry: Entry)] {
        order[head...].compactMap { item in
            guard let entry = entries[item.key], entry.arrival == item.arrival else { return nil }
            return (item.key, entry)
        }
    }

    func encode(into w: inout BinaryWriter) {
        let live = entriesInOrder
        w.count(live.count)
        for (key, entry) in live {
            w.string(key)
            w.blob(entry.digest)
            w.f64(entry.arrival)
        }
    }

    static func decode(from r: inout BinaryReader) throws(BinaryReader.Malformed) -> IdempotencyTable {
        var table = IdempotencyTable()
        let n = try r.count(minimumItemBytes: 10)
        for _ in 0..<n {
            let key = try r.string()
            let digest = Array(try r.blob())
            table.insert(IdempotencyClaim(key: key, digest: digest), arrival: try r.f64(), ticket: nil)
        }
        return table
    }
}
