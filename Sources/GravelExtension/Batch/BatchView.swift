import Shared

/// The state a push is checked against in the extension: what the gateway will hold once
/// the in-flight batch and then the pending batch arrive.
///
/// The in-flight part of the pushed group counts only while the pending batch merges into
/// it; a pending PUT or DELETE of that group replaces it at the gateway.
struct BatchView: PushStateView {
    let state: BatchStore.State
    /// Every group part the gateway will hold, with its key: gathered once per push, since
    /// the rules ask about it once per family, name and new series.
    private let parts: [(LabelKey, BatchGroup)]

    init(state: BatchStore.State, pushedGroup: LabelKey) {
        self.state = state
        var parts: [(LabelKey, BatchGroup)] = []
        let samePending = state.pending.groups[pushedGroup]
        if let inflight = state.inflight {
            for (key, group) in inflight.groups where key != pushedGroup || samePending?.operation ?? .merge == .merge {
                parts.append((key, group))
            }
        }
        for (key, group) in state.pending.groups { parts.append((key, group)) }
        self.parts = parts
    }

    func storedType(of family: String, excludingGroup: LabelKey?) -> MetricType? {
        for (key, group) in parts where key != excludingGroup {
            if let type = group.type(of: family) { return type }
        }
        return nil
    }

    func family(writing name: String, excludingGroup: LabelKey?) -> String? {
        for (key, group) in parts where key != excludingGroup {
            // A legacy family writes only names that start with its own (a suffix added):
            // the others need no name list.
            for (family, stored) in group.state.families
            where (name.utf8.starts(with: family.utf8) || !NameRules.isLegacyMetricName(family.utf8))
                && stored.type.exposedNames(ofFamily: family).contains(name)
            {
                return family
            }
        }
        return nil
    }

    func owner(of family: String, key: LabelKey) -> LabelKey? {
        for (groupKey, group) in parts where group.holds(family: family, key: key) {
            return groupKey
        }
        return nil
    }

    func group(_ key: LabelKey) -> GroupState? {
        state.pending.groups[key]?.state ?? state.inflight?.groups[key]?.state
    }

    var seriesCount: Int { state.heldEntries }

    var groupCount: Int { parts.count }
}
