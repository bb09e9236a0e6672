import Shared
import Synchronization

/// All pushed groups, with the checks that span groups, behind one lock.
///
/// A push is parsed outside the lock; under it, it is validated against every group
/// (types per metric name, final series owned by one group, the series limit) and only
/// then applied, so a refused push changes nothing.
final class MetricStore: Sendable {
    struct Group: Sendable {
        var grouping: GroupingKey
        var state = GroupState()
        var pushTimeSeconds = 0.0
    }

    /// A metric name's type and how many groups hold a family of that name.
    struct Registration: Sendable {
        var type: MetricType
        var groups: Int
    }

    /// A series as Prometheus sees it: family name and final labels.
    struct SeriesID: Hashable, Sendable {
        var family: String
        var key: LabelKey
    }

    struct State: Sendable {
        var groups: [LabelKey: Group] = [:]
        var registrations: [String: Registration] = [:]
        /// Every sample or metadata name a registered family writes, to the family's name:
        /// two families must not write the same name (`foo_sum` of a histogram `foo` and an
        /// untyped `foo_sum`; a counter `foo` and a counter `foo_total`).
        var exposedNames: [String: String] = [:]
        var owners: [SeriesID: LabelKey] = [:]
        var seriesCount = 0
        /// Groups whose families may hold stale sorted-key caches.
        var unsorted: Set<LabelKey> = []
        var sortedGroupKeys: [LabelKey]? = []
    }

    enum Method: Sendable { case post, put }

    let state = Mutex(State())
    let maxSeries: Int
    let maxGroups: Int
    /// Pebble observations ignored because they were older than their window.
    let staleObservations = Atomic<Int>(0)

    /// Names the gateway writes itself; pushes may not use them.
    static let reservedName = "push_time_seconds"
    static let reservedPrefix = "gravel_gateway_"

    init(maxSeries: Int = 1_000_000, maxGroups: Int = 100_000) {
        self.maxSeries = maxSeries
        self.maxGroups = maxGroups
    }

    var seriesCount: Int { state.withLock { $0.seriesCount } }
    var groupCount: Int { state.withLock { $0.groups.count } }

    /// Applies a parsed push to a group: POST merges, PUT replaces the group.
    func push(_ push: ParsedPush, to grouping: GroupingKey, method: Method, now: Double) throws(PushError) {
        for family in push.families {
            // Every name the family writes, the OpenMetrics metadata name of a counter
            // `push_time_seconds_total` included: a scrape must not declare a name twice.
            var written = Self.exposedNames(of: family.name, type: family.type)
            if family.type == .counter, family.name.hasSuffix("_total") { written.append(String(family.name.dropLast(6))) }
            for name in written where name == Self.reservedName || name.hasPrefix(Self.reservedPrefix) {
                throw .badRequest("line \(family.line): \(family.name) would write \(name), which the gateway writes itself; rename it")
            }
        }
        let maxSeries = self.maxSeries
        let maxGroups = self.maxGroups
        let result: Result<Int, PushError> = state.withLock { state in
            do throws(PushError) {
                // Even an empty push makes a group, which holds memory and a push_time_seconds line.
                if state.groups[grouping.key] == nil, state.groups.count >= maxGroups {
                    throw PushError(
                        kind: .tooManyGroups,
                        message: "the gateway holds \(state.groups.count) groups, the limit (--max-groups); "
                            + "delete unused groups or raise the limit")
                }
                try Self.validate(push, grouping, method, state, maxSeries: maxSeries)
            } catch {
                return .failure(error)
            }
            let stale = Self.apply(push, grouping, method, &state, now: now)
            return .success(stale)
        }
        let stale = try result.get()
        if stale > 0 { staleObservations.add(stale, ordering: .relaxed) }
    }

    /// Removes a group. Removing a group that does not exist succeeds, as in the Pushgateway.
    func delete(_ grouping: GroupingKey) {
        state.withLock { state in
            guard var group = state.groups.removeValue(forKey: grouping.key) else { return }
            Self.clear(&group, &state)
            state.unsorted.remove(grouping.key)
            state.sortedGroupKeys = nil
        }
    }

    /// Removes groups last pushed before `cutoff` (seconds since the epoch); returns how many.
    func expire(olderThan cutoff: Double) -> Int {
        state.withLock { state in
            let stale = state.groups.filter { $0.value.pushTimeSeconds < cutoff }.map(\.key)
            for key in stale {
                guard var group = state.groups.removeValue(forKey: key) else { continue }
                Self.clear(&group, &state)
                state.unsorted.remove(key)
            }
            if !stale.isEmpty { state.sortedGroupKeys = nil }
            return stale.count
        }
    }

    // MARK: - Validation

    static func validate(_ push: ParsedPush, _ grouping: GroupingKey, _ method: Method, _ state: State, maxSeries: Int) throws(PushError) {
        let existing = method == .put ? nil : state.groups[grouping.key]
        let replacedGroup = method == .put ? state.groups[grouping.key] : nil
        var added = 0
        var removed = replacedGroup?.state.seriesCount ?? 0
        var newKeys: Set<SeriesID> = []
        var claimedHere: [String: String] = [:]

        for family in push.families {
            for name in exposedNames(of: family.name, type: family.type) {
                let owner = state.exposedNames[name] ?? claimedHere[name]
                if let owner, owner != family.name {
                    throw .badRequest(
                        "line \(family.line): \(family.type) \(family.name) would write \(name), which family \(owner) already writes; "
                            + "rename one of them")
                }
                claimedHere[name] = family.name
            }
            if let registration = state.registrations[family.name], registration.type != family.type {
                // A PUT replaces this group's family, so only other groups' families count.
                let heldHere = replacedGroup?.state.families[family.name] != nil ? 1 : 0
                if registration.groups - heldHere > 0 {
                    throw .badRequest(
                        "line \(family.line): \(family.name) is pushed as \(family.type) but is stored as \(registration.type); "
                            + "a metric name has one type across the gateway")
                }
            }
            let stored = existing?.state.families[family.name]
            let replacing = family.replacesFamily
            if replacing, let stored { removed += stored.series.count }
            for series in family.series {
                if !replacing, stored?.series[series.key] != nil { continue }
                let id = SeriesID(family: family.name, key: series.key)
                if let owner = state.owners[id], owner != grouping.key {
                    throw .badRequest(
                        "line \(series.line): series \(family.name)\(series.key) is already pushed by group \(owner.isEmpty ? "{}" : "{\(String(decoding: owner.bytes, as: UTF8.self))}"); "
                            + "two groups cannot expose the same series")
                }
                if newKeys.insert(id).inserted {
                    added += 1
                }
            }
        }
        let total = state.seriesCount - removed + added
        if added > 0, total > maxSeries {
            throw PushError(
                kind: .tooManySeries,
                message: "this push would bring the gateway to \(total) series, over the limit of \(maxSeries) (--max-series); "
                    + "delete unused groups or raise the limit")
        }
    }

    // MARK: - Mutation

    /// Returns the number of pebble observations too old for their window.
    static func apply(_ push: ParsedPush, _ grouping: GroupingKey, _ method: Method, _ state: inout State, now: Double) -> Int {
        let groupKey = grouping.key
        let nowMs = Int64((now * 1000).rounded())
        var stale = 0
        var group = state.groups.removeValue(forKey: groupKey) ?? Group(grouping: grouping)
        if group.state.isEmpty { state.sortedGroupKeys = nil }
        if method == .put { clear(&group, &state) }
        var changed = false
        for family in push.families {
            let name = family.name
            let had = group.state.families[name] != nil
            stale += group.state.apply(
                family,
                nowMs: nowMs,
                inserted: { key in
                    state.owners[SeriesID(family: name, key: key)] = groupKey
                    state.seriesCount += 1
                    changed = true
                },
                removed: { key in
                    state.owners[SeriesID(family: name, key: key)] = nil
                    state.seriesCount -= 1
                    changed = true
                })
            let has = group.state.families[name] != nil
            if !had, has {
                if state.registrations[name] == nil {
                    for exposed in exposedNames(of: name, type: family.type) { state.exposedNames[exposed] = name }
                }
                state.registrations[name, default: Registration(type: family.type, groups: 0)].groups += 1
            } else if had, !has {
                unregister(name, &state)
            }
        }
        if changed { state.unsorted.insert(groupKey) }
        group.pushTimeSeconds = now
        state.groups[groupKey] = group
        return stale
    }

    /// Empties a group's state, keeping the indexes right.
    static func clear(_ group: inout Group, _ state: inout State) {
        for name in group.state.families.keys { unregister(name, &state) }
        group.state.removeAll { name, key in
            state.owners[SeriesID(family: name, key: key)] = nil
            state.seriesCount -= 1
        }
    }

    static func unregister(_ name: String, _ state: inout State) {
        guard var registration = state.registrations[name] else { return }
        registration.groups -= 1
        if registration.groups > 0 {
            state.registrations[name] = registration
        } else {
            state.registrations[name] = nil
            for exposed in exposedNames(of: name, type: registration.type) where state.exposedNames[exposed] == name {
                state.exposedNames[exposed] = nil
            }
        }
    }

    /// The names a family writes in either output format.
    static func exposedNames(of name: String, type: MetricType) -> [String] {
        switch type {
        case .counter:
            // OpenMetrics writes the samples of a counter `foo` as `foo_total`. The metadata
            // name `foo` of a counter `foo_total` is not claimed: real exporters (Go's
            // runtime metrics) pair a gauge `foo` with a counter `foo_total`.
            return name.hasSuffix("_total") ? [name] : [name, name + "_total"]
        case .histogram: return [name, name + "_bucket", name + "_sum", name + "_count"]
        case .gaugeHistogram: return [name, name + "_bucket", name + "_sum", name + "_count", name + "_gsum", name + "_gcount"]
        case .summary: return [name, name + "_sum", name + "_count"]
        case .gauge, .untyped: return [name]
        }
    }
}
