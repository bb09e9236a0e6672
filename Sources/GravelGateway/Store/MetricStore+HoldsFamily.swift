import Shared

extension MetricStore.Snapshot {
    /// Whether any group holds a family of this name (the scrape asks before it writes a
    /// `process_*` family of its own).
    func holdsFamily(named name: String) -> Bool {
        groups.values.contains { $0.state.families[name] != nil }
    }
}
