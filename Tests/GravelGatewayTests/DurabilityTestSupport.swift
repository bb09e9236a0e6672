import Logging
import NIOCore
import Shared

@testable import GravelGateway

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A fresh directory under /tmp, removed with everything in it when `body` returns.
func withTemporaryDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
    var template = Array("/tmp/gravel-durability-XXXXXX".utf8CString)
    let path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    defer {
        for name in (try? DataDirectory.list(path)) ?? [] { unlink(path + "/" + name) }
        rmdir(path)
    }
    return try await body(path)
}

func record(_ sequence: UInt64, _ body: String, job: String = "j", key: String? = nil, operation: WALRecord.Operation = .post) -> WALRecord
{
    WALRecord(
        sequence: sequence, operation: operation, grouping: GroupingKey(labels: [("job", job)]), arrival: 1000 + Double(sequence) / 8,
        idempotencyKey: key, contentType: "text/plain; version=0.0.4", body: ByteBuffer(string: body))
}

func frames(_ records: [WALRecord]) -> (bytes: [UInt8], starts: [Int]) {
    var out: [UInt8] = []
    var starts: [Int] = []
    for r in records {
        var w = BinaryWriter()
        r.encode(into: &w)
        starts.append(out.count)
        WALFrame.append(payload: w.bytes, to: &out)
    }
    return (out, starts)
}

func scrape(_ store: MetricStore, now: Double) -> String {
    var writer = ExpositionWriter(format: .text)
    store.snapshot().render(into: &writer, now: now)
    return String(decoding: writer.bytes, as: UTF8.self)
}

/// Pushes `body` the way the responder does: parsed, applied, logged (with a journal), and waited for.
@discardableResult
func livePush(
    _ store: MetricStore, _ body: String, job: String = "j", method: PushMethod = .post, now: Double, key: String? = nil
) async throws -> DurabilityTicket {
    let grouping = GroupingKey(labels: [("job", job)])
    let buffer = ByteBuffer(string: body)
    let operation: WALRecord.Operation = method == .put ? .put : .post
    let claim = key.map {
        IdempotencyClaim(key: $0, operation: operation, grouping: grouping, contentType: nil, contentEncoding: nil, body: buffer)
    }
    let parsed = try ExpositionParser.parse(body, grouping: grouping)
    let record =
        store.journal == nil
        ? nil : WALRecord(operation: operation, grouping: grouping, arrival: now, idempotencyKey: key, body: buffer)
    let ticket = try store.push(parsed, to: grouping, method: method, now: now, claim: claim, record: record)
    try await ticket.wait()
    return ticket
}

let quietLogger: Logger = {
    var logger = Logger(label: "durability-test")
    logger.logLevel = .critical
    return logger
}()
