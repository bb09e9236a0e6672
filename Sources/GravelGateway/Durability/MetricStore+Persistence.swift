import Shared
import Synchronization

extension MetricStore {
    /// What a snapshot holds: every group and the idempotency keys, as of a log sequence.
    struct Persisted: Sendable {
        var groups: [Group]
        var idempotency: IdempotencyTable
        var sequence: UInt64
    }

    /// A copy of the state for a snapshot, with the ticket to wait on before it may be
    /// written (nil when everything in it is already durable); nil while changes are refused.
    func persistedCopy() -> (Persisted, DurabilityTicket?)? {
        state.withLock { state in
            guard state.unavailable == nil else { return nil }
            if case .some(.none) = state.journalTicket?.outcome { state.journalTicket = nil }
            let copy = Persisted(groups: Array(state.groups.values), idempotency: state.idempotency, sequence: state.journalSequence)
            return (copy, state.journalTicket)
        }
    }

    /// Replaces the whole state with a loaded or rebuilt one, rebuilding every index.
    /// Whether changes are refused is kept: the caller decides when they resume.
    func install(_ persisted: Persisted) {
        var fresh = State()
        for group in persisted.groups {
            fresh.groups[group.grouping.key] = group
            fresh.unsorted.insert(group.grouping.key)
            for (name, family) in group.state.families {
                MetricStore.register(name, type: family.type, help: family.help, &fresh)
                for key in family.series.keys { fresh.owners[SeriesIdentity(family: name, key: key)] = group.grouping.key }
                fresh.seriesCount += family.series.count
            }
        }
        fresh.sortedGroupKeys = nil
        fresh.idempotency = persisted.idempotency
        fresh.journalSequence = persisted.sequence
        state.withLock { state in
            fresh.unavailable = state.unavailable
            state = fresh
        }
    }

    /// The state as `install` takes it, for a store that nobody else writes (a replay's).
    func persisted() -> Persisted {
        state.withLock { Persisted(groups: Array($0.groups.values), idempotency: $0.idempotency, sequence: $0.journalSequence) }
    }

    func refuseChanges(_ reason: String?) {
        state.withLock { $0.unavailable = reason }
    }
}

extension MetricStore.Persisted {
    func encode(into w: inout BinaryWriter) {
        w.count(groups.count)
        for group in groups {
            group.grouping.encode(into: &w)
            w.f64(group.pushTimeSeconds)
            w.f64(group.pushFailureTimeSeconds)
            group.state.encode(into: &w)
        }
        idempotency.encode(into: &w)
    }

    static func decode(from r: inout BinaryReader, sequence: UInt64) throws(BinaryReader.Malformed) -> MetricStore.Persisted {
        let n = try r.count(minimumItemBytes: 10)
        var groups: [MetricStore.Group] = []
        groups.reserveCapacity(n)
        for _ in 0..<n {
            var group = MetricStore.Group(grouping: try GroupingKey.decode(from: &r))
            group.pushTimeSeconds = try r.f64()
            group.pushFailureTimeSeconds = try r.f64()
            group.state = try GroupState.decode(from: &r)
            groups.append(group)
        }
        let idempotency = try IdempotencyTable.decode(from: &r)
        guard r.isAtEnd else { throw r.fail("\(r.remaining) bytes after the state") }
        return MetricStore.Persisted(groups: groups, idempotency: idempotency, sequence: sequence)
    }
}
