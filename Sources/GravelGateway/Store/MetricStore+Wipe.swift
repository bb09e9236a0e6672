import Synchronization

extension MetricStore {
    /// Removes every group at once (`PUT /api/v1/admin/wipe`); returns how many there were.
    ///
    /// One lock for all of it, so a scrape sees either everything or nothing, never half a
    /// wipe; a fresh state has every index consistent by construction.
    @discardableResult
    func wipe() -> Int {
        state.withLock { state in
            let removed = state.groups.count
            state = State()
            return removed
        }
    }
}
