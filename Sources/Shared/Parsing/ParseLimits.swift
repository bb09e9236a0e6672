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
    /// Whether metric and label names may be any UTF-8, quoted in the body
    /// (`{"my.metric","my.label"="v"}`) and `U__`-escaped in paths (`--push.enable-utf8-names`).
    public var utf8Names = false

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

    /// For a push that was accepted before (a log record replayed): it passed the limits
    /// in force then, which may have been higher than the defaults, or had UTF-8 names on.
    public static let replay: ParseLimits = {
        // Far above any flag's sensible value, and far enough below Int.max that the
        // parser's arithmetic on them (room for `le` and `clearmode`) cannot overflow.
        let unbounded = 1 << 40
        var limits = ParseLimits(
            maxLabelsPerSeries: unbounded, maxLabelNameBytes: unbounded, maxLabelValueBytes: unbounded, maxBuckets: unbounded,
            maxQuantiles: unbounded)
        limits.utf8Names = true
        return limits
    }()

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
        public static let utf8Names = "--push.enable-utf8-names (GRAVEL_UTF8_NAMES=true in the extension)"
    }
}
