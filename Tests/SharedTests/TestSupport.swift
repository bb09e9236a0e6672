import Shared

/// Renders one group's families in text format, sorted, for comparisons in tests.
func render(_ group: GroupState, format: ExpositionFormat = .text) -> String {
    var group = group
    var writer = ExpositionWriter(format: format)
    group.render(into: &writer, nowMs: 1_000_000)
    writer.finish()
    return String(decoding: writer.bytes, as: UTF8.self)
}

/// Parses and merges bodies into a fresh group, one push after another.
func pushAll(
    _ bodies: [String], grouping: GroupingKey = .empty, format: ExpositionFormat = .text, nowMs: Int64 = 1_000_000
) throws -> GroupState {
    var group = GroupState()
    for body in bodies {
        let push = try ExpositionParser.parse(body, format: format, grouping: grouping)
        for family in push.families { group.apply(family, nowMs: nowMs) }
    }
    return group
}

/// Renders a group, reads the output back as a scraper does, and renders that again.
func reread(_ group: GroupState, format: ExpositionFormat = .text) throws -> String {
    let push = try ExpositionParser.parseScrape(Array(render(group, format: format).utf8), format: format)
    var again = GroupState()
    for family in push.families { again.apply(family, nowMs: 1_000_000) }
    return render(again, format: format)
}

func parseError(_ body: String, format: ExpositionFormat = .text) -> ExpositionError? {
    do {
        _ = try ExpositionParser.parse(body, format: format)
        return nil
    } catch {
        return error
    }
}

extension ParsedPush {
    func family(_ name: String) -> ParsedFamily? { families.first { $0.name == name } }
}
