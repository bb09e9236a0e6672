import Shared

/// Reads the records of one segment's bytes and tells a torn tail from damage in the middle.
///
/// A crash during a write can only leave the end of the newest segment incomplete: every
/// earlier segment was synced before the writer moved past it. So a bad frame is a torn tail
/// when no valid frame follows it in the newest segment; anywhere else, or with a valid frame
/// after it, it is corruption of data that had been acknowledged.
struct WALReader {
    struct Damage: Sendable, Equatable {
        /// Where the first bad frame starts.
        var offset: Int
        /// Where the next valid frame starts (nil: none follows in this segment).
        var resumesAt: Int?
        var reason: String
    }

    struct Result {
        var records: [WALRecord] = []
        /// End of the last good record before any damage.
        var validEnd = 0
        var damage: [Damage] = []
    }

    /// Decodes every record. With `skipDamage`, reading resumes at the next valid frame after
    /// damage (the bytes between are lost); without, it stops at the first damage.
    static func read(_ bytes: [UInt8], skipDamage: Bool) -> Result {
        var result = Result()
        bytes.withUnsafeBytes { raw in
            var offset = 0
            var clean = true
            while offset < raw.count {
                var reason = "bad checksum or length"
                if let payload = WALFrame.validFrame(in: raw, at: offset) {
                    var reader = BinaryReader(bytes, offset: payload.lowerBound, end: payload.upperBound)
                    do throws(BinaryReader.Malformed) {
                        result.records.append(try WALRecord.decode(&reader))
                        offset = payload.upperBound
                        if clean { result.validEnd = offset }
                        continue
                    } catch {
                        reason = error.description
                    }
                }
                let next = WALFrame.nextValidFrame(in: raw, after: offset)
                result.damage.append(Damage(offset: offset, resumesAt: next, reason: reason))
                clean = false
                guard skipDamage, let next else { return }
                offset = next
            }
        }
        return result
    }
}
