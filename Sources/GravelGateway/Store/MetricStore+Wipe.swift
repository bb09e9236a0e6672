import Shared
import Synchronization

extension MetricStore {
    /// Removes every group at once (`PUT /api/v1/admin/wipe`); returns how many there were,
    /// and the ticket that completes once the wipe is in the log (`--data-dir`), so a wipe
    /// survives a restart like any delete.
    ///
    /// One lock for all of it, so a scrape sees either everything or nothing, never half a
    /// wipe; a fresh state has every index consistent by construction. The idempotency keys
    /// and the log's position stay: they describe requests, not metrics.
    func wipe(now: Double, record: WALRecord? = nil) throws(PushFailure) -> (removed: Int, ticket: DurabilityTicket) {
        try state.withLock { state throws(PushFailure) in
            if let repeated = try admit(nil, now: now, &state) { return (0, repeated) }
            let removed = state.groups.count
            var fresh = State()
            fresh.idempotency = state.idempotency
            fresh.journalSequence = state.journalSequence
            fresh.journalTicket = state.journalTicket
            fresh.unavailable = state.unavailable
            state = fresh
            let logged = record ?? WALRecord(sequence: 0, operation: .wipe, grouping: .empty, arrival: now)
            return (removed, commit(logged, nil, now: now, &state))
        }
    }
}
