/// The type of a metric family, covering Prometheus text 0.0.4 and OpenMetrics 1.0.
///
/// OpenMetrics `info` and `stateset` families are stored as gauges (that is how the
/// text format represents them), so they never appear here.
public enum MetricType: UInt8, Sendable, Hashable, CustomStringConvertible {
    case counter
    case gauge
    case histogram
    case gaugeHistogram
    case summary
    case untyped

    /// The keyword used in a `# TYPE` line of the text format 0.0.4.
    public var textName: String {
        switch self {
        case .counter: "counter"
        case .gauge: "gauge"
        case .histogram, .gaugeHistogram: "histogram"
        case .summary: "summary"
        case .untyped: "untyped"
        }
    }

    /// The keyword used in a `# TYPE` line of OpenMetrics.
    public var openMetricsName: String {
        switch self {
        case .counter: "counter"
        case .gauge: "gauge"
        case .histogram: "histogram"
        case .gaugeHistogram: "gaugehistogram"
        case .summary: "summary"
        case .untyped: "unknown"
        }
    }

    public var description: String { openMetricsName }

    /// Series of these types hold buckets rather than one value.
    public var isHistogram: Bool { self == .histogram || self == .gaugeHistogram }

    /// The merge rule a series gets when it carries no `clearmode` label.
    public var defaultClearMode: ClearMode {
        switch self {
        case .gauge, .gaugeHistogram: .replace
        default: .aggregate
        }
    }
}
