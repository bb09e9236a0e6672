import Logging
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
        /// Last accepted push, seconds since the epoch (0: never).
        var pushTimeSeconds = 0.0
        /// Last refused push, seconds since the epoch (0: never).
        var pushFailureTimeSeconds = 0.0
    }

    /// A metric name's type and how many groups hold a family of that name.
    struct Registration: Sendable {
        var type: MetricType
        var groups: Int
        /// The first HELP pushed for the name, and whether a different one was logged: a
        /// scrape shows one HELP per family, so a conflict is worth one log line, not one per push.
        var help: String? = nil
        var helpConflictLogged = false
    }

    struct State: Sendable {
        var groups: [LabelKey: Group] = [:]
        var registrations: [String: Registration] = [:]
        /// Every sample or metadata name a registered family writes, to the family's name:
        /// two families must not write the same name (`foo_sum` of a histogram `foo` and an
        /// untyped `foo_sum`; a counter `foo` and a counter `foo_total`).
        var exposedNames: [String: String] = [:]
        var owners: [SeriesIdentity: LabelKey] = [:]
        var seriesCount = 0
        /// Groups whose families may hold stale sorted-key caches.
        var unsorted: Set<LabelKey> = []
        var sortedGroupKeys: [LabelKey]? = []
        /// Keys of applied changes within `--idempotency-window`.
        var idempotency = IdempotencyTable()
        /// Sequence of the last logged change applied, and its ticket until it is known durable.
        var journalSequence: UInt64 = 0
        var journalTicket: DurabilityTicket?
        /// Why changes are refused with 503 (replay running, the log cannot be written); nil when accepted.
        var unavailable: String?
    }

    let state = Mutex(State())
    let rules: PushRules
    /// Pebble observations ignored because they were older than their window.
    let staleObservations = Atomic<Int>(0)

    let logger: Logger
    /// `--data-dir`: every change is logged under the lock, in the order it is applied.
    let journal: WriteAheadLog?
    /// `--idempotency-window` in seconds.
    let idempotencyWindow: Double

    init(
        rules: PushRules = PushRules(maxSeries: 1_000_000), logger: Logger = Logger(label: "gravel-gateway"),
        journal: WriteAheadLog? = nil, idempotencyWindow: Double = 600
    ) {
        self.rules = rules
        self.logger = logger
        self.journal = journal
        self.idempotencyWindow = idempotencyWindow
    }

    var seriesCount: Int { state.withLock { $0.seriesCount } }
    var groupCount: Int { state.withLock { $0.groups.count } }

    /// Applies a parsed push to a group: POST merges, PUT replaces the group. Checked
    /// whole against the store first (``PushRules``), so a refused push changes nothing.
    ///
    /// With a journal, `record` (the push as received) is logged under the lock right after
    /// the push is applied, so the log's order is the order of application and a replay
    /// rebuilds this state exactly. The returned ticket completes once the record is on disk;
    /// the caller answers only then. A push repeating an applied `claim` changes nothing and
    /// returns the original's ticket.
    @discardableResult
    func push(
        _ push: ParsedPush, to grouping: GroupingKey, method: PushMethod, now: Double,
        claim: IdempotencyClaim? = nil, record: WALRecord? = nil
    ) throws(PushFailure) -> DurabilityTicket {
        let rules = self.rules
        var helpConflicts: [HelpConflict] = []
        let result: Result<(Int, DurabilityTicket), PushFailure> = state.withLock { state in
            do throws(PushFailure) {
                if let repeated = try admit(claim, now: now, &state) { return .success((0, repeated)) }
                try rules.validate(push, to: grouping, method: method, in: state)
            } catch {
                return .failure(error)
            }
            let stale = Self.apply(push, grouping, method, &state, now: now, helpConflicts: &helpConflicts)
            return .success((stale, commit(record, claim, now: now, &state)))
        }
        let (stale, ticket) = try result.get()
        if stale > 0 { staleObservations.add(stale, ordering: .relaxed) }
        logHelpConflicts(helpConflicts, grouping)
        return ticket
    }

    func logHelpConflicts(_ helpConflicts: [HelpConflict], _ grouping: GroupingKey) {
        for conflict in helpConflicts {
            logger.notice(
                "groups push different HELP for one metric name; the scrape shows the first (logged once per name)",
                metadata: [
                    "name": "\(conflict.name)", "help": "\(PushFailure.clip(conflict.stored))",
                    "other_help": "\(PushFailure.clip(conflict.pushed))", "group": "\(grouping.displayName)",
                ])
        }
    }

    /// Notes a refused push on its group, creating the group (as the Pushgateway does, so
    /// `push_failure_time_seconds > push_time_seconds` alerts fire for a job whose pushes
    /// never succeeded), unless that would pass the group limit.
    func recordFailure(_ grouping: GroupingKey, now: Double) {
        let maxGroups = rules.maxGroups
        state.withLock { state in
            if state.groups[grouping.key] == nil {
                guard state.groups.count < maxGroups else { return }
                state.groups[grouping.key] = Group(grouping: grouping)
                state.sortedGroupKeys = nil
            }
            state.groups[grouping.key]!.pushFailureTimeSeconds = now
        }
    }

    /// Removes a group. Removing a group that does not exist succeeds, as in the Pushgateway.
    @discardableResult
    func delete(
        _ grouping: GroupingKey, now: Double = 0, claim: IdempotencyClaim? = nil, record: WALRecord? = nil
    ) throws(PushFailure) -> DurabilityTicket {
        try state.withLock { state throws(PushFailure) in
            if let repeated = try admit(claim, now: now, &state) { return repeated }
            if var group = state.groups.removeValue(forKey: grouping.key) {
                Self.clear(&group, &state)
                state.unsorted.remove(grouping.key)
                state.sortedGroupKeys = nil
            }
            return commit(record, claim, now: now, &state)
        }
    }

    /// Removes groups last pushed before `cutoff` (seconds since the epoch); returns how many.
    /// With a journal the expiry is logged; while the log cannot be written nothing expires.
    func expire(olderThan cutoff: Double, sequence: UInt64? = nil) -> Int {
        state.withLock { state in
            if state.unavailable != nil { return 0 }
            let stale = state.groups.filter { $0.value.pushTimeSeconds < cutoff }.map(\.key)
            for key in stale {
                guard var group = state.groups.removeValue(forKey: key) else { continue }
                Self.clear(&group, &state)
                state.unsorted.remove(key)
            }
            if !stale.isEmpty {
                state.sortedGroupKeys = nil
                let record = WALRecord(sequence: sequence ?? 0, operation: .expire, grouping: .empty, arrival: cutoff, expiryCutoff: cutoff)
                _ = commit(record, nil, now: cutoff, &state)
            }
            return stale.count
        }
    }

    /// Under the lock, before a change: the ticket of an applied change this one repeats, or
    /// nil to go on. Refuses a key reused for another request, and any change while the log
    /// cannot take it.
    func admit(_ claim: IdempotencyClaim?, now: Double, _ state: inout State) throws(PushFailure) -> DurabilityTicket? {
        if let claim {
            state.idempotency.expire(before: now - idempotencyWindow)
            switch state.idempotency.lookup(claim) {
            case .unknown: break
            case .repeated(let ticket): return ticket ?? .durable
            case .conflict:
                throw PushFailure(
                    .idempotencyKeyReused,
                    "Idempotency-Key \(PushFailure.clip(claim.key)) was already used for a different request (method, group or body) "
                        + "within --idempotency-window; use a new key for a new request")
            }
        }
        if let reason = state.unavailable { throw PushFailure(.unavailable, reason) }
        return nil
    }

    /// Under the lock, after a change was applied: logs it and remembers its key.
    func commit(_ record: WALRecord?, _ claim: IdempotencyClaim?, now: Double, _ state: inout State) -> DurabilityTicket {
        var ticket = DurabilityTicket.durable
        if let record {
            if let journal {
                ticket = journal.append(record)
                state.journalTicket = ticket
            }
            state.journalSequence = journal == nil ? record.sequence : ticket.sequence
        }
        if let claim { state.idempotency.insert(claim, arrival: now, ticket: journal == nil ? nil : ticket) }
        return ticket
    }

    // MARK: - Mutation

    /// Returns the number of pebble observations too old for their window.
    /// A HELP text that differs from the one stored for the same name.
    struct HelpConflict {
        var name: String
        var stored: String
        var pushed: String
    }

    static func apply(
        _ push: ParsedPush, _ grouping: GroupingKey, _ method: PushMethod, _ state: inout State, now: Double,
        helpConflicts: inout [HelpConflict]
    ) -> Int {
        let groupKey = grouping.key
        let nowMs = Int64((now * 1000).rounded())
        var stale = 0
        var group = state.groups.removeValue(forKey: groupKey) ?? Group(grouping: grouping)
        if group.state.isEmpty { state.sortedGroupKeys = nil }
        if method == .put { clear(&group, &state) }
        var changed = false
        for family in push.families {
            let name = family.name
            if let help = family.help, var registration = state.registrations[name] {
                if let stored = registration.help, stored != help, !registration.helpConflictLogged {
                    registration.helpConflictLogged = true
                    helpConflicts.append(HelpConflict(name: name, stored: stored, pushed: help))
                } else if registration.help == nil {
                    registration.help = help
                }
                state.registrations[name] = registration
            }
            let had = group.state.families[name] != nil
            stale += group.state.apply(
                family,
                nowMs: nowMs,
                inserted: { key in
                    state.owners[SeriesIdentity(family: name, key: key)] = groupKey
                    state.seriesCount += 1
                    changed = true
                },
                removed: { key in
                    state.owners[SeriesIdentity(family: name, key: key)] = nil
                    state.seriesCount -= 1
                    changed = true
                })
            let has = group.state.families[name] != nil
            if !had, has {
                register(name, type: family.type, help: family.help, &state)
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
            state.owners[SeriesIdentity(family: name, key: key)] = nil
            state.seriesCount -= 1
        }
    }

    /// Counts one more group holding family `name`: the first claims the names it writes,
    /// and a help text fills in where none is known yet.
    static func register(_ name: String, type: MetricType, help: String?, _ state: inout State) {
        if state.registrations[name] == nil {
            for exposed in type.exposedNames(ofFamily: name) { state.exposedNames[exposed] = name }
        }
        state.registrations[name, default: Registration(type: type, groups: 0, help: help)].groups += 1
        if state.registrations[name]!.help == nil { state.registrations[name]!.help = help }
    }

    static func unregister(_ name: String, _ state: inout State) {
        guard var registration = state.registrations[name] else { return }
        registration.groups -= 1
        if registration.groups > 0 {
            state.registrations[name] = registration
        } else {
            state.registrations[name] = nil
            for exposed in registration.type.exposedNames(ofFamily: name) where state.exposedNames[exposed] == name {
                state.exposedNames[exposed] = nil
            }
        }
    }
}

extension MetricStore.State: PushStateView {
    func storedType(of family: String, excludingGroup: LabelKey?) -> MetricType? {
        guard let registration = registrations[family] else { return nil }
        return heldOnlyBy(excludingGroup, family: family, registration) ? nil : registration.type
    }

    func family(writing name: String, excludingGroup: LabelKey?) -> String? {
        guard let family = exposedNames[name], let registration = registrations[family] else { return nil }
        return heldOnlyBy(excludingGroup, family: family, registration) ? nil : family
    }

    func owner(of family: String, key: LabelKey) -> LabelKey? {
        owners[SeriesIdentity(family: family, key: key)]
    }

    func group(_ key: LabelKey) -> GroupState? {
        groups[key]?.state
    }

    var groupCount: Int { groups.count }

    /// Whether the only group holding `family` is `group` (so replacing it frees the name).
    private func heldOnlyBy(_ group: LabelKey?, family: String, _ registration: MetricStore.Registration) -> Bool {
        guard let group, registration.groups == 1 else { return false }
        return groups[group]?.state.families[family] != nil
    }
}
