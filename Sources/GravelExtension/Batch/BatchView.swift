import Shared

/// The state a push is checked against in the extension: what the gateway will hold once
/// the in-flight batch and then the pending batch arrive.
///
/// The in-flight part of the pushed group counts only while the pending batch merges into
/// it; a pending PUT or DELETE of that group replaces it at the gateway.
struct BatchView: PushStateView {
    let state: BatchStore.State
    let pushedGroup: LabelKey

    /// Every group part the gateway will hold, with its key.
    private var parts: [(LabelKey, BatchGroup)] {
        var parts: [(LabelKey, BatchGroup)] = []
        let samePending = state.pending.groups[pushedGroup]
        if let inflight = state.inflight {
            for (key, group) in inflight.groups where key != pushedGroup || samePending?.operation ?? .merge == .merge {
                parts.append((key, group))
            }
        }
        for (key, group) in state.pending.groups { parts.append((key, group)) }
        return parts
    }

    func storedType(of family: String, excludingGroup: LabelKey?) -> MetricType? {
        for (key, group) in parts where key != excludingGroup {
            if let type = group.type(of: family) { return type }
        }
        return nil
    }

    func family(writing name: String, excludingGroup: LabelKey?) -> String? {
        for (key, group) in parts where key != excludingGroup {
            for (family, stored) in group.state.families where stored.type.exposedNames(ofFamily: family).contains(name) {
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

    var seriesCount: Int { state.pending.entryCount + (state.inflight?.entryCount ?? 0) }

    var groupCount: Int { parts.count }
}
