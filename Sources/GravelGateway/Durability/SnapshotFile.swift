import Shared

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A snapshot file: `GRVLSNP1`, the log sequence it covers (u64), the state's length (u64),
/// the state, and a CRC-32C of everything before it. Written to a temporary name, synced,
/// renamed and the directory synced, so a crash leaves either the old snapshot or the new
/// one, never half of one under a snapshot's name.
enum SnapshotFile {
    static let magic = Array("GRVLSNP1".utf8)

    static func encode(_ persisted: MetricStore.Persisted) -> [UInt8] {
        var w = BinaryWriter(capacity: 1 << 20)
        w.bytes.append(contentsOf: magic)
        w.u64(persisted.sequence)
        w.u64(0)  // Length, patched below.
        let start = w.bytes.count
        persisted.encode(into: &w)
        let length = UInt64(w.bytes.count - start)
        for i in 0..<8 { w.bytes[start - 8 + i] = UInt8(truncatingIfNeeded: length >> (8 * UInt64(i))) }
        w.u32(CRC32C.checksum(w.bytes))
        return w.bytes
    }

    static func decode(_ bytes: [UInt8], name: String) throws(DurabilityError) -> MetricStore.Persisted {
        func bad(_ why: String) -> DurabilityError {
            DurabilityError(kind: .badSnapshot, message: "snapshot \(name) is damaged: \(why)")
        }
        guard bytes.count >= magic.count + 20, Array(bytes[0..<magic.count]) == magic else { throw bad("not a snapshot file") }
        var r = BinaryReader(bytes, offset: magic.count)
        let sequence: UInt64
        let length: UInt64
        do throws(BinaryReader.Malformed) {
            sequence = try r.u64()
            length = try r.u64()
        } catch {
            throw bad(error.description)
        }
        guard length == UInt64(bytes.count - magic.count - 20) else { throw bad("its length does not match the file size") }
        var stored: UInt32 = 0
        for i in 0..<4 { stored |= UInt32(bytes[bytes.count - 4 + i]) << (8 * UInt32(i)) }
        guard stored == CRC32C.checksum(bytes[0..<bytes.count - 4]) else { throw bad("checksum mismatch") }
        var state = BinaryReader(bytes, offset: r.offset, end: bytes.count - 4)
        do throws(BinaryReader.Malformed) {
            return try MetricStore.Persisted.decode(from: &state, sequence: sequence)
        } catch {
            throw bad(error.description)
        }
    }

    /// Writes the snapshot durably; returns its size.
    @discardableResult
    static func write(_ persisted: MetricStore.Persisted, directory: String) throws(DurabilityError) -> Int {
        let bytes = encode(persisted)
        let name = DataFileName.snapshot(sequence: persisted.sequence)
        let temporary = directory + "/" + name + DataFileName.temporarySuffix
        do throws(DurabilityError) {
            let file = try DataFile(path: temporary, flags: O_WRONLY | O_CREAT | O_TRUNC)
            try file.write(bytes, at: 0)
            try file.sync()
            try DataDirectory.move(temporary, directory + "/" + name)
            try DataDirectory.sync(directory)
        } catch {
            try? DataDirectory.remove(temporary)
            throw error
        }
        return bytes.count
    }
}
