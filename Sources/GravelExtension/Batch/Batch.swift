import Shared

/// The pushes of one or more invocations, merged per group, waiting to be flushed.
///
/// Exactness: flushing a batch (``flushOrder()`` then ``render(_:)`` per group) leaves the
/// gateway with what it would hold had every push gone straight to it. POSTs merge with the
/// Shared rules and replay through `clearmode` labels; PUT and DELETE stay group operations.
package struct Batch: Sendable {
    package var groups: [LabelKey: BatchGroup] = [:]
    private var nextSequence = 0
    /// Set when the batch is first taken for a flush and kept on every retry; each group's
    /// request sends `<key>-<group sequence>` as its Idempotency-Key.
    package var idempotencyKey: String?

    package init() {}

    package var isEmpty: Bool { groups.isEmpty }

    /// Series and pebble observations over all groups.
    package var entryCount: Int { groups.values.reduce(0) { $0 + $1.entryCount } }

    /// Applies one accepted push.
    package mutating func apply(_ families: [ParsedFamily], to grouping: GroupingKey, method: PushMethod, nowMs: Int64) {
        let key = grouping.key
        switch method {
        case .post:
            var group = groups.removeValue(forKey: key) ?? BatchGroup(grouping: grouping, operation: .merge, sequence: takeSequence())
            if group.operation == .delete { group.operation = .replace }
            group.merge(families, nowMs: nowMs)
            groups[key] = group
        case .put:
            var group = BatchGroup(grouping: grouping, operation: .replace, sequence: takeSequence())
            group.merge(families, nowMs: nowMs)
            groups[key] = group
        case .delete:
            groups[key] = BatchGroup(grouping: grouping, operation: .delete, sequence: takeSequence())
        }
    }

    /// Group keys in the order the flush sends them: PUTs and DELETEs first, in the order
    /// they happened, then groups that only merge.
    package func flushOrder() -> [LabelKey] {
        groups.sorted { a, b in
            let opA = a.value.operation != .merge, opB = b.value.operation != .merge
            if opA != opB { return opA }
            return a.value.sequence < b.value.sequence
        }.map(\.key)
    }

    /// A group's Idempotency-Key: unique per sandbox (128 random bits, drawn at flush time,
    /// so sandboxes restored from one SnapStart snapshot differ) and per batch and group.
    package func idempotencyKey(for group: BatchGroup) -> String? {
        idempotencyKey.map { "\($0)-\(group.sequence)" }
    }

    static func newIdempotencyKey() -> String {
        var generator = SystemRandomNumberGenerator()
        func hex(_ value: UInt64) -> String {
            let digits = String(value, radix: 16)
            return String(repeating: "0", count: 16 - digits.count) + digits
        }
        return hex(generator.next()) + hex(generator.next())
    }

    private mutating func takeSequence() -> Int {
        nextSequence += 1
        return nextSequence
    }
}
