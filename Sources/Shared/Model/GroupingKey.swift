/// The labels of a push URL path (`/metrics/job/checkout/region/eu`) that name a group.
///
/// Path labels are added to every series of the push and win over body labels of the same name.
public struct GroupingKey: Hashable, Sendable, CustomStringConvertible {
    /// Unescaped pairs sorted by name.
    public let labels: [(name: String, value: String)]
    /// The canonical form, also the group's identity.
    public let key: LabelKey
    /// Names and escaped values as bytes, sorted by name, for the parser's hot path;
    /// `quoted` for a UTF-8 name, which keys write in quotes.
    let escapedPairs: [(name: [UInt8], value: [UInt8], quoted: Bool)]

    /// A label with an empty value is left out: Prometheus reads it as absent, so a group
    /// `{a="",job="v"}` and a group `{job="v"}` would expose the same series.
    public init(labels: [(name: String, value: String)]) {
        let sorted = labels.filter { !$0.value.isEmpty }.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        self.labels = sorted
        self.key = LabelKey(labels: sorted.map { ($0.name, $0.value) })
        self.escapedPairs = sorted.map { pair in
            var value: [UInt8] = []
            LabelKey.appendEscaped(pair.value, to: &value)
            return (Array(pair.name.utf8), value, !NameRules.isLegacyLabelName(pair.name.utf8))
        }
    }

    /// No path labels (a push to plain `/metrics`).
    public static let empty = GroupingKey(labels: [])

    /// The value of the `job` label, if any.
    public var job: String? { labels.first { $0.name == "job" }?.value }

    public static func == (lhs: GroupingKey, rhs: GroupingKey) -> Bool { lhs.key == rhs.key }
    public func hash(into hasher: inout Hasher) { key.hash(into: &hasher) }
    public var description: String { key.description }

    /// The URL path that pushes to this group, with values URL-safe base64 encoded where
    /// they hold a `/` or are empty, and percent-encoded otherwise.
    public var path: String {
        var path = "/metrics"
        for (label, value) in labels {
            // A UTF-8 label name travels `U__`-escaped, as a gateway with UTF-8 names reads it.
            let name = String(decoding: NameRules.escape(Array(label.utf8), .values, label: true), as: UTF8.self)
            if value.isEmpty || value.contains("/") {
                path += "/\(name)@base64/" + Base64URL.encode(Array(value.utf8))
            } else {
                path += "/\(name)/" + PercentEncoding.encodePathSegment(value)
            }
        }
        return path
    }
}
