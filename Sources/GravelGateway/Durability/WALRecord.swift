import NIOCore
import Shared

/// One accepted change to the store, as the write-ahead log keeps it.
///
/// A push is logged as the body it arrived with (plus its Content-Type and Content-Encoding),
/// not as parsed series: the body is already the most compact form (often gzip), logging it
/// costs a copy instead of an encoder for every value kind, and replay runs it through the
/// same parser and merge as the live push did, at the record's own arrival time, so the
/// rebuilt state equals the one that was acknowledged.
struct WALRecord: Sendable {
    enum Operation: UInt8, Sendable {
        case post = 1
        case put = 2
        case delete = 3
        /// `--series-ttl` dropped the groups last pushed before `expiryCutoff`.
        case expire = 4
        /// `PUT /api/v1/admin/wipe`: every group removed.
        case wipe = 5
    }

    static let formatVersion: UInt8 = 1
    /// Version, operation, sequence, arrival, and at least one byte each for grouping and key.
    static let minimumPayloadBytes = 20

    var sequence: UInt64 = 0
    var operation: Operation
    var grouping: GroupingKey
    /// Seconds since the epoch, kept bit for bit so `push_time_seconds` replays exactly.
    var arrival: Double
    var idempotencyKey: String?
    var contentType: String?
    var contentEncoding: String?
    var body = ByteBuffer()
    var expiryCutoff = 0.0

    /// Appends the payload (without the frame).
    func encode(into w: inout BinaryWriter) {
        w.u8(Self.formatVersion)
        w.u8(operation.rawValue)
        w.u64(sequence)
        w.f64(arrival)
        grouping.encode(into: &w)
        w.optionalString(idempotencyKey)
        switch operation {
        case .post, .put:
            w.optionalString(contentType)
            w.optionalString(contentEncoding)
            w.count(body.readableBytes)
            body.withUnsafeReadableBytes { w.bytes.append(contentsOf: $0) }
        case .delete, .wipe:
            break
        case .expire:
            w.f64(expiryCutoff)
        }
    }

    static func decode(_ r: inout BinaryReader) throws(BinaryReader.Malformed) -> WALRecord {
        guard try r.u8() == formatVersion else { throw r.fail("unknown record version") }
        guard let operation = Operation(rawValue: try r.u8()) else { throw r.fail("unknown operation") }
        let sequence = try r.u64()
        let arrival = try r.f64()
        let grouping = try GroupingKey.decode(from: &r)
        var record = WALRecord(
            sequence: sequence, operation: operation, grouping: grouping, arrival: arrival,
            idempotencyKey: try r.optionalString())
        switch operation {
        case .post, .put:
            record.contentType = try r.optionalString()
            record.contentEncoding = try r.optionalString()
            record.body = ByteBuffer(bytes: try r.blob())
        case .delete, .wipe:
            break
        case .expire:
            record.expiryCutoff = try r.f64()
        }
        guard r.isAtEnd else { throw r.fail("\(r.remaining) bytes after the record") }
        return record
    }
}
