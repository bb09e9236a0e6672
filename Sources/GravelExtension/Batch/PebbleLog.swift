import Shared

/// Pebble observations (`clearmode="mean5m"` and the like) kept as repeated lines.
///
/// A windowed statistic cannot be pre-aggregated without knowing the gateway's window, so
/// the batch keeps every observation with its timestamp, in order, and the flush replays
/// them as repeated lines: the gateway sees each one as if pushed on its own.
package struct PebbleLog: Sendable {
    package struct Observation: Sendable, Equatable {
        package var key: LabelKey
        package var mode: ClearMode
        package var value: Double
        package var timestampMs: Int64
    }

    package struct Family: Sendable {
        package var type: MetricType
        package var help: String?
        package var observations: [Observation] = []
    }

    package var families: [String: Family] = [:]
    /// Observations over all families.
    package private(set) var count = 0

    package init() {}

    package var isEmpty: Bool { count == 0 }

    package mutating func append(family name: String, type: MetricType, help: String?, _ observation: Observation) {
        families[name, default: Family(type: type, help: help)].observations.append(observation)
        if let help { families[name]!.help = help }
        count += 1
    }

    /// Drops a family's observations (a `clearmode="family"` push replaced the family).
    package mutating func removeFamily(_ name: String) {
        if let family = families.removeValue(forKey: name) { count -= family.observations.count }
    }

    /// Appends a newer log's observations after these.
    package mutating func append(_ newer: PebbleLog) {
        for (name, family) in newer.families {
            for observation in family.observations {
                append(family: name, type: family.type, help: family.help, observation)
            }
        }
    }

    package func contains(family name: String, key: LabelKey) -> Bool {
        families[name]?.observations.contains { $0.key == key } ?? false
    }
}
