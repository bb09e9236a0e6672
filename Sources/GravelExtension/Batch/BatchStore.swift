import Shared
import Synchronization

/// The pending batch, the batch being flushed, and the checks a push must pass, behind one lock.
///
/// Pushes come from the local listener's event loop, flushes from the flusher thread. A
/// flush takes the pending batch out (``take()``); if it fails, ``finish(returning:)``
/// keeps the failed groups, unchanged and with their Idempotency-Key, as the next batch to
/// send, ahead of what arrived meanwhile: a request the gateway applied but whose answer was
/// lost (a freeze, a timeout) is then recognised when it comes again, and never counted
/// twice. Memory stays bounded by series: at most the retried batch and one pending batch.
package final class BatchStore: Sendable {
    struct State: Sendable {
        var pending = Batch()
        /// The batch being sent, or kept to be sent again after a failure.
        var inflight: Batch? = nil
        /// Whether ``inflight`` is with the flusher right now.
        var sending = false
        var converter = CumulativeConverter()
        /// Drops not yet reported to the gateway, by reason.
        var unreportedDrops: [String: Double] = [:]
        var droppedTotal: [String: Double] = [:]
    }

    private let state = Mutex(State())
    package let maxSeries: Int
    package let cumulative: Bool
    /// Where the extension's own metrics (drops) go.
    package let ownGrouping: GroupingKey

    /// Names only the gateway writes; it refuses pushes of them.
    static let reservedName = "push_time_seconds"
    static let reservedPrefix = "gravel_gateway_"
    static let droppedName = "gravel_extension_dropped_total"

    package init(maxSeries: Int, cumulative: Bool, ownGrouping: GroupingKey) {
        self.maxSeries = maxSeries
        self.cumulative = cumulative
        self.ownGrouping = ownGrouping
    }

    // MARK: - Pushes

    /// Validates a parsed push against the batch, as the gateway would, and merges it.
    ///
    /// - Parameter convert: apply `GRAVEL_CUMULATIVE` conversion (the function's pushes; not
    ///   the extension's own platform metrics, which are deltas already).
    package func push(
        _ push: ParsedPush, to grouping: GroupingKey, method requested: PushMethod, arrivalMs: Int64, convert: Bool = true
    ) throws(PushRejection) {
        for family in push.families where family.name == Self.reservedName || family.name.hasPrefix(Self.reservedPrefix) {
            throw .badRequest("line \(family.line): \(family.name) is written by the gateway itself and cannot be pushed")
        }
        // Cumulative totals from many sandboxes can only add up as deltas merged into the group;
        // a PUT of one sandbox's deltas would wipe the others'.
        let method: PushMethod = cumulative && convert && requested == .put ? .post : requested
        let maxSeries = self.maxSeries
        let cumulative = self.cumulative
        let result: Result<Void, PushRejection> = state.withLock { state in
            do throws(PushRejection) {
                try Self.validate(push, grouping, method, state, maxSeries: maxSeries)
            } catch {
                if error.kind == .tooManySeries {
                    let dropped = Double(push.families.reduce(0) { $0 + $1.series.count })
                    state.unreportedDrops["max_series", default: 0] += dropped
                    state.droppedTotal["max_series", default: 0] += dropped
                }
                return .failure(error)
            }
            var families = push.families
            if cumulative && convert { state.converter.convert(&families, group: grouping.key) }
            state.pending.apply(families, to: grouping, method: method, nowMs: arrivalMs)
            return .success(())
        }
        try result.get()
    }

    /// Removes a group (DELETE).
    package func delete(_ grouping: GroupingKey) {
        state.withLock { state in
            state.pending.apply([], to: grouping, method: .delete, nowMs: 0)
            if cumulative { state.converter.forget(group: grouping.key) }
        }
    }

    static func validate(_ push: ParsedPush, _ grouping: GroupingKey, _ method: PushMethod, _ state: State, maxSeries: Int) throws(PushRejection) {
        let key = grouping.key
        let samePending = state.pending.groups[key]
        // What the gateway will hold when this push arrives there: the in-flight batch (unless
        // a pending PUT or DELETE clears its part of this group), then the pending batch.
        var others: [BatchGroup] = []
        var sameGroup: [BatchGroup] = []
        if let inflight = state.inflight {
            for (k, group) in inflight.groups {
                if k == key {
                    if samePending == nil || samePending!.operation == .merge { sameGroup.append(group) }
                } else {
                    others.append(group)
                }
            }
        }
        for (k, group) in state.pending.groups where k != key { others.append(group) }
        if let samePending { sameGroup.append(samePending) }
        if method == .put { sameGroup.removeAll() }

        var added = 0
        let typed = others + sameGroup
        for family in push.families {
            for group in typed {
                if let type = group.type(of: family.name), type != family.type {
                    throw .badRequest(
                        "line \(family.line): \(family.name) is pushed as \(family.type) but this sandbox already pushed it as \(type); "
                            + "a metric name has one type across the gateway")
                }
            }
            for series in family.series {
                for group in others where group.holds(family: family.name, key: series.key) {
                    throw .badRequest(
                        "line \(series.line): series \(family.name)\(series.key) is already pushed by group \(group.grouping); "
                            + "two groups cannot expose the same series")
                }
                if series.mode.isPebble || !sameGroup.contains(where: { $0.state.families[family.name]?.series[series.key] != nil }) {
                    added += 1
                }
            }
        }
        let held = state.pending.entryCount + (state.inflight?.entryCount ?? 0)
        if added > 0, held + added > maxSeries {
            throw PushRejection(
                kind: .tooManySeries,
                message: "the extension holds \(held) series waiting for the gateway and this push adds \(added), "
                    + "over GRAVEL_MAX_SERIES=\(maxSeries); the push was dropped")
        }
    }

    // MARK: - Flushing

    /// The batch to send next: the one kept from a failed flush, else the pending batch
    /// (with the drop counts so far), which gets its Idempotency-Key now; `nil` when there
    /// is nothing to send or a flush is already running.
    package func take(nowMs: Int64) -> Batch? {
        state.withLock { state in
            guard !state.sending else { return nil }
            if let retry = state.inflight {
                state.sending = true
                return retry
            }
            if !state.unreportedDrops.isEmpty {
                let family = Self.droppedFamily(state.unreportedDrops, grouping: ownGrouping)
                state.pending.apply([family], to: ownGrouping, method: .post, nowMs: nowMs)
                state.unreportedDrops.removeAll()
            }
            guard !state.pending.isEmpty else { return nil }
            var batch = state.pending
            batch.idempotencyKey = Batch.newIdempotencyKey()
            state.pending = Batch()
            state.inflight = batch
            state.sending = true
            return batch
        }
    }

    /// Ends the flush in flight; the `failed` groups (with the batch's key) are sent again
    /// at the next flush, before the newer pushes.
    package func finish(returning failed: Batch) {
        state.withLock { state in
            state.sending = false
            state.inflight = failed.isEmpty ? nil : failed
        }
    }

    /// Counts entries that will never reach the gateway.
    package func recordDrop(reason: String, count: Int) {
        guard count > 0 else { return }
        state.withLock { state in
            state.unreportedDrops[reason, default: 0] += Double(count)
            state.droppedTotal[reason, default: 0] += Double(count)
        }
    }

    /// Whether a flush would find something to send (new pushes, drop counts, or a batch
    /// kept from a failed flush).
    package var hasPendingData: Bool {
        state.withLock { !$0.pending.isEmpty || !$0.unreportedDrops.isEmpty || ($0.inflight != nil && !$0.sending) }
    }


    package var pendingEntries: Int { state.withLock { $0.pending.entryCount + ($0.inflight?.entryCount ?? 0) } }

    package var droppedTotal: [String: Double] { state.withLock { $0.droppedTotal } }

    /// A copy of the pending batch, for tests and diagnostics.
    package var pendingSnapshot: Batch { state.withLock { $0.pending } }

    static func droppedFamily(_ drops: [String: Double], grouping: GroupingKey) -> ParsedFamily {
        let series = drops.sorted { $0.key < $1.key }.map { reason, count in
            ParsedSeries(
                key: LabelKey(labels: grouping.labels.map { ($0.name, $0.value) } + [("reason", reason)]),
                mode: .aggregate, value: .scalar(count))
        }
        return ParsedFamily(
            name: droppedName, type: .counter,
            help: "Series the extension could not deliver: refused by the gateway, or over GRAVEL_MAX_SERIES.",
            series: series)
    }
}
