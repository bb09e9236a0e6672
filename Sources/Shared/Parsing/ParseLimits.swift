/// Bounds on what one push may hold, so the work and memory a push causes grow with its
/// size and not with what it expands to. Both programs apply the same defaults; the
/// gateway sets each from a flag, which the refusal names.
public struct ParseLimits: Sendable, Hashable {
    /// Labels of one series, path labels included, `le`, `quantile` and `clearmode` not.
    public var maxLabelsPerSeries: Int
    /// Bytes of one label name.
    public var maxLabelNameBytes: Int
    /// Bytes of one label value, escaped as the text format writes it.
    public var maxLabelValueBytes: Int
    /// Buckets of one histogram series, `+Inf` included.
    public var maxBuckets: Int
    /// Quantiles of one summary series.
    public var maxQuantiles: Int
    /// Bytes the push's series take once written out (each sample line's name and labels),
    /// and bytes of text a protobuf body translates to. A path label is copied into every
    /// line and a protobuf bucket repeats its series' labels: this is what bounds them.
    public var maxExpandedBytes: Int

    public init(
        maxLabelsPerSeries: Int = 64,
        maxLabelNameBytes: Int = 1024,
        maxLabelValueBytes: Int = 4096,
        maxBuckets: Int = 1024,
        maxQuantiles: Int = 64,
        maxExpandedBytes: Int = ParseLimits.expansionFactor * 16 * 1024 * 1024
    ) {
        self.maxLabelsPerSeries = maxLabelsPerSeries
        self.maxLabelNameBytes = maxLabelNameBytes
        self.maxLabelValueBytes = maxLabelValueBytes
        self.maxBuckets = maxBuckets
        self.maxQuantiles = maxQuantiles
        self.maxExpandedBytes = maxExpandedBytes
    }

    /// `maxExpandedBytes` is this multiple of the body limit: an ordinary push writes out to
    /// about its own size plus its path labels on every line.
    public static let expansionFactor = 4

    /// The limits with `maxExpandedBytes` derived from a body limit.
    public func withBodyLimit(_ maxBodyBytes: Int) -> ParseLimits {
        var limits = self
        let (product, overflow) = maxBodyBytes.multipliedReportingOverflow(by: Self.expansionFactor)
        limits.maxExpandedBytes = overflow ? Int.max : product
        return limits
    }

    /// The gateway flags that set each limit, for messages.
    public enum Flag {
        public static let labelsPerSeries = "--max-labels-per-series"
        public static let labelNameBytes = "--max-label-name-bytes"
        public static let labelValueBytes = "--max-label-value-bytes"
        public static let buckets = "--max-buckets"
        public static let quantiles = "--max-quantiles"
        public static let expandedBytes = "\(ParseLimits.expansionFactor) × --max-body-bytes"
    }
}
