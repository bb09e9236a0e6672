import Shared

/// The measured units of work, one function each.
///
/// They are `@inline(never)` so that a profile can switch collection on for exactly one
/// of them (`valgrind --tool=callgrind --toggle-collect=<symbol>`, see
/// scripts/bench/profile.sh) and leave out the set-up around it.

let benchGrouping = GroupingKey(labels: [(name: "job", value: "bench")])

@inline(never)
func phaseParse(_ raw: UnsafeRawBufferPointer, grouping: GroupingKey) -> ParsedPush {
    do {
        return try ExpositionParser.parse(raw, format: .text, grouping: grouping)
    } catch {
        fail("the generated body does not parse: \(error)")
    }
}

@inline(never)
func phaseMerge(_ push: ParsedPush, into state: inout GroupState, nowMs: Int64) {
    for family in push.families {
        state.apply(family, nowMs: nowMs)
    }
}

@inline(never)
func phaseRender(_ state: inout GroupState, nowMs: Int64) -> Int {
    // The gateway's scrape starts its writer at 64 KiB too.
    var writer = ExpositionWriter(format: .text, capacity: 1 << 16)
    state.render(into: &writer, nowMs: nowMs)
    writer.finish()
    return writer.bytes.count
}

/// One push as the gateway handles it after HTTP: parse the body, merge it into its group.
@inline(never)
func phasePush(_ raw: UnsafeRawBufferPointer, into state: inout GroupState, nowMs: Int64) {
    let push = phaseParse(raw, grouping: benchGrouping)
    phaseMerge(push, into: &state, nowMs: nowMs)
}

/// Builds the group the render benchmark writes: `groups` pushes of the scrape body, each
/// with its own `instance` path label, merged into one state. The series and their keys are
/// those the HTTP scrape benchmark loads into the gateway.
func buildScrapeState(groups: Int, families: Int, perFamily: Int, nowMs: Int64) -> GroupState {
    let body = Generator.scrapeBody(families: families, perFamily: perFamily)
    var state = GroupState()
    body.withUnsafeBytes { raw in
        for g in 0..<groups {
            let grouping = GroupingKey(labels: [(name: "job", value: "scrape"), (name: "instance", value: instanceName(g))])
            let push = phaseParse(raw, grouping: grouping)
            phaseMerge(push, into: &state, nowMs: nowMs)
        }
    }
    return state
}

/// The gateway's layout of the same series: one GroupState per group.
func buildScrapeGroups(groups: Int, families: Int, perFamily: Int, nowMs: Int64) -> [GroupState] {
    let body = Generator.scrapeBody(families: families, perFamily: perFamily)
    var states: [GroupState] = []
    states.reserveCapacity(groups)
    body.withUnsafeBytes { raw in
        for g in 0..<groups {
            let grouping = GroupingKey(labels: [(name: "job", value: "scrape"), (name: "instance", value: instanceName(g))])
            var state = GroupState()
            phaseMerge(phaseParse(raw, grouping: grouping), into: &state, nowMs: nowMs)
            states.append(state)
        }
    }
    return states
}

/// Only the series keys of the same series, as the parser makes them.
func buildScrapeKeys(groups: Int, families: Int, perFamily: Int) -> [LabelKey] {
    let body = Generator.scrapeBody(families: families, perFamily: perFamily)
    var keys: [LabelKey] = []
    keys.reserveCapacity(groups * families * perFamily)
    body.withUnsafeBytes { raw in
        for g in 0..<groups {
            let grouping = GroupingKey(labels: [(name: "job", value: "scrape"), (name: "instance", value: instanceName(g))])
            for family in phaseParse(raw, grouping: grouping).families {
                for series in family.series { keys.append(series.key) }
            }
        }
    }
    return keys
}

@inline(never)
func phaseRenderGroups(_ states: inout [GroupState], nowMs: Int64) -> Int {
    var writer = ExpositionWriter(format: .text, capacity: 1 << 16)
    for i in states.indices { states[i].render(into: &writer, nowMs: nowMs) }
    writer.finish()
    return writer.bytes.count
}

/// `g0001`-style instance names, zero-padded so that byte order is numeric order.
func instanceName(_ g: Int) -> String {
    let digits = String(g)
    return "g" + String(repeating: "0", count: max(0, 5 - digits.count)) + digits
}
