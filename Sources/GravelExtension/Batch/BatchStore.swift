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
    package struct State: Sendable {
        var pending = Batch()
        /// The batch being sent, or kept to be sent again after a failure.
        var inflight: Batch? = nil
        /// Whether ``inflight`` is with the flusher right now.
        var sending = false
        var converter = CumulativeConverter()
        /// Drops not yet reported to the gateway, by reason.
        var unreportedDrops: [String: Double] = [:]
        var droppedTotal: [String: Double] = [:]
        /// Where the extension's own metrics (drops) go: the platform metrics' group.
        var ownGrouping: GroupingKey

        /// Entries held for the gateway, pending and in flight.
        var heldEntries: Int { pending.entryCount + (inflight?.entryCount ?? 0) }
    }

    private let state: Mutex<State>
    /// Most entries (series, and pebble observations beyond each series' first) held for
    /// the gateway, pending and in flight together (`GRAVEL_MAX_SERIES`).
    package let maxSeries: Int
    package let cumulative: Bool
    /// The gateway's rules, without its limits: the buffer bound is the extension's own
    /// business and never refuses a push (see ``push(_:to:method:arrivalMs:convert:)``).
    private let rules = PushRules(maxSeries: .max, maxGroups: .max)

    static let droppedName = "gravel_extension_dropped_total"

    package init(maxSeries: Int, cumulative: Bool, ownGrouping: GroupingKey) {
        self.maxSeries = maxSeries
        self.cumulative = cumulative
        self.state = Mutex(State(ownGrouping: ownGrouping))
    }

    /// Moves the extension's own metrics to the platform metrics' group once registration
    /// told the account id (see `TelemetryListener.setGrouping`).
    package func setOwnGrouping(_ grouping: GroupingKey) {
        state.withLock { $0.ownGrouping = grouping }
    }

    // MARK: - Pushes

    /// Checks a parsed push with the gateway's rules against what the gateway will hold
    /// when the pending and in-flight batches arrive, and merges it.
    ///
    /// A push the gateway would refuse is refused here with the same ``PushFailure``, so the
    /// function sees its bug at once instead of the whole group being dropped at flush time.
    /// The buffer bound never refuses: past `GRAVEL_MAX_SERIES`, whole groups of the pending
    /// batch are dropped, oldest first, and counted (reason `buffer_full`).
    ///
    /// - Parameter convert: apply `GRAVEL_CUMULATIVE` conversion (the function's pushes; not
    ///   the extension's own platform metrics, which are deltas already).
    package func push(
        _ push: ParsedPush, to grouping: GroupingKey, method requested: PushMethod, arrivalMs: Int64, convert: Bool = true
    ) throws(PushFailure) {
        // Cumulative totals from many sandboxes can only add up as deltas merged into the group;
        // a PUT of one sandbox's deltas would wipe the others'.
        let method: PushMethod = cumulative && convert && requested == .put ? .post : requested
        let rules = self.rules
        let maxSeries = self.maxSeries
        let cumulative = self.cumulative
        let result: Result<Void, PushFailure> = state.withLock { state in
            do throws(PushFailure) {
                try rules.validate(push, to: grouping, method: method, in: BatchView(state: state, pushedGroup: grouping.key))
            } catch {
                return .failure(error)
            }
            var families = push.families
            if cumulative && convert { state.converter.convert(&families, group: grouping.key) }
            state.pending.apply(families, to: grouping, method: method, nowMs: arrivalMs)
            Self.enforceBound(&state, maxSeries: maxSeries, keeping: grouping.key)
            return .success(())
        }
        try result.get()
    }

    /// Drops pending groups, oldest first, until the buffer is within `maxSeries`; the group
    /// just pushed to goes last.
    static func enforceBound(_ state: inout State, maxSeries: Int, keeping newest: LabelKey) {
        var held = state.heldEntries
        guard held > maxSeries else { return }
        var order = state.pending.groups.sorted { $0.value.sequence < $1.value.sequence }.map(\.key).filter { $0 != newest }
        order.append(newest)
        for key in order where held > maxSeries {
            guard let dropped = state.pending.groups.removeValue(forKey: key) else { continue }
            held -= dropped.entryCount
            let count = Double(dropped.entryCount)
            state.unreportedDrops["buffer_full", default: 0] += count
            state.droppedTotal["buffer_full", default: 0] += count
        }
    }

    /// Removes a group (DELETE).
    package func delete(_ grouping: GroupingKey) {
        state.withLock { state in
            state.pending.apply([], to: grouping, method: .delete, nowMs: 0)
            if cumulative { state.converter.forget(group: grouping.key) }
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
                let family = Self.droppedFamily(state.unreportedDrops, grouping: state.ownGrouping)
                state.pending.apply([family], to: state.ownGrouping, method: .post, nowMs: nowMs)
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

    package var pendingEntries: Int { state.withLock { $0.heldEntries } }

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
