/// One series of a push, in the order it appeared in the body.
public struct ParsedSeries: Sendable {
    /// The final label set: body labels (without `clearmode`, `le`, `quantile`) with the
    /// grouping labels merged in.
    public var key: LabelKey
    public var mode: ClearMode
    public var value: SeriesValue
    /// The sample's timestamp in milliseconds, when the body gave one.
    public var timestampMs: Int64?
    /// The body line the series starts on, for error messages.
    public var line: Int

    public init(key: LabelKey, mode: ClearMode, value: SeriesValue, timestampMs: Int64? = nil, line: Int = 0) {
        self.key = key
        self.mode = mode
        self.value = value
        self.timestampMs = timestampMs
        self.line = line
    }
}

/// One metric family of a push.
public struct ParsedFamily: Sendable {
    /// The name the text format 0.0.4 uses for the family (a counter keeps its `_total`).
    public var name: String
    public var type: MetricType
    public var help: String?
    /// Series in body order; a series may appear more than once (applied in order).
    public var series: [ParsedSeries]
    /// The line of the family's first sample.
    public var line: Int

    public init(name: String, type: MetricType, help: String? = nil, series: [ParsedSeries] = [], line: Int = 0) {
        self.name = name
        self.type = type
        self.help = help
        self.series = series
        self.line = line
    }

    /// True when a series asks for `clearmode="family"`: the stored family is replaced.
    public var replacesFamily: Bool {
        series.contains { if case .family = $0.mode { true } else { false } }
    }
}

/// A fully parsed and validated push body.
public struct ParsedPush: Sendable {
    public var families: [ParsedFamily]

    public init(families: [ParsedFamily] = []) { self.families = families }

    /// Number of sample lines the series stand for (buckets, sums and counts included).
    public var sampleCount: Int {
        families.reduce(0) { total, family in
            total
                + family.series.reduce(0) { n, s in
                    switch s.value {
                    case .scalar: n + 1
                    case .histogram(let h): n + h.buckets.count + (h.sum == nil ? 1 : 2)
                    case .summary(let q): n + q.quantiles.count + (q.sum == nil ? 0 : 1) + (q.count == nil ? 0 : 1)
                    case .window: n + 1
                    case .observations(let list): n + list.count
                    case .nativeHistogram(let h, let classic): n + h.bucketCount + 2 + (classic?.buckets.count ?? 0)
                    }
                }
        }
    }
}

/// The two text formats Gravel reads and writes.
public enum ExpositionFormat: Sendable {
    /// Prometheus text format 0.0.4.
    case text
    /// OpenMetrics 1.0 text.
    case openMetrics

    /// Picks the format of a request body from its `Content-Type`, falling back to
    /// looking for the `# EOF` line OpenMetrics ends with.
    public static func detect(contentType: String?, body: UnsafeRawBufferPointer) -> ExpositionFormat {
        if let contentType, contentType.contains("openmetrics") { return .openMetrics }
        // `# EOF` with an optional final newline.
        var end = body.count
        while end > 0, body[end - 1] == 0x0A || body[end - 1] == 0x0D || body[end - 1] == 0x20 { end -= 1 }
        let eof: [UInt8] = Array("# EOF".utf8)
        guard end >= eof.count else { return .text }
        for i in 0..<eof.count where body[end - eof.count + i] != eof[i] { return .text }
        return end == eof.count || body[end - eof.count - 1] == 0x0A ? .openMetrics : .text
    }
}
