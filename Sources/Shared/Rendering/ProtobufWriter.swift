/// Writes the Prometheus protobuf exposition: a stream of `io.prometheus.client.MetricFamily`
/// messages, each preceded by its length as a varint (`encoding=delimited`).
///
/// The only format with native histograms. A family is held until the next header or
/// ``finish()``, since its length prefix needs its size; ``bytes`` holds finished families.
public struct ProtobufWriter: ScrapeWriter {
    public private(set) var bytes: [UInt8]
    public var addsEmptyInstance = false
    /// The open family's fields (name, help, type, metrics), without its length prefix.
    private var family: [UInt8] = []
    private var familyOpen = false
    /// Scratch for one metric and for its value message, reused across series.
    private var metric: [UInt8] = []
    private var value: [UInt8] = []

    public static let mediaType = "application/vnd.google.protobuf"
    /// How names outside the legacy character set are written; `nil` with UTF-8 names off.
    /// Protobuf carries any name as it is, so only schemes other than `allow-utf-8` change them.
    public var nameEscaping: NameEscaping? = nil

    public init(capacity: Int = 4096) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public var contentType: String {
        let type = "\(Self.mediaType); proto=io.prometheus.client.MetricFamily; encoding=delimited"
        return nameEscaping.map { type + "; escaping=\($0.rawValue)" } ?? type
    }

    /// Protobuf families carry the name as pushed; there are no suffixed sample names.
    public func names(family name: String, type: MetricType) -> (sample: [UInt8], metadata: String) {
        (Array(name.utf8), name)
    }

    public func shows(_ value: SeriesValue) -> SeriesValue? { value }

    public mutating func writeHeader(metadataName: String, type: MetricType, help: String?) {
        closeFamily()
        familyOpen = true
        Self.string(MetricsProto.MetricFamily.name, escaped(metadataName, label: false), to: &family)
        if let help { Self.string(MetricsProto.MetricFamily.help, help, to: &family) }
        Self.varintField(MetricsProto.MetricFamily.type, Self.typeCode(type), to: &family)
    }

    public mutating func writeSeries(
        name: [UInt8], type: MetricType, key: LabelKey, value seriesValue: SeriesValue, extraLabel: [UInt8]?, timestampMs: Int64?
    ) {
        var labels = key.labels
        if let extraLabel { labels.append(contentsOf: LabelKey(bytes: extraLabel).labels) }
        if addsEmptyInstance { labels = LabelKey.withEmptyInstance(labels) }
        switch seriesValue {
        case .scalar(let v):
            writeMetric(labels, timestampMs) { w in Self.scalar(v, type: type, to: &w.value, field: &w.valueField) }
        case .histogram(let h):
            writeMetric(labels, timestampMs) { w in
                w.valueField = MetricsProto.Metric.histogram
                Self.histogram(classic: h, native: nil, to: &w.value)
            }
        case .nativeHistogram(let native, let classic):
            writeMetric(labels, timestampMs) { w in
                w.valueField = MetricsProto.Metric.histogram
                Self.histogram(classic: classic, native: native, to: &w.value)
            }
        case .summary(let s):
            writeMetric(labels, timestampMs) { w in
                w.valueField = MetricsProto.Metric.summary
                Self.summary(s, to: &w.value)
            }
        case .observations(let list):
            for observation in list {
                writeMetric(labels, observation.timestampMs) { w in
                    Self.scalar(observation.value, type: type, to: &w.value, field: &w.valueField)
                }
            }
        case .window:
            // Callers resolve windows with `SeriesValue.exposed(atMs:)`: their value depends on the time.
            break
        }
    }

    public mutating func finish() { closeFamily() }

    public mutating func takeBytes() -> [UInt8] {
        let taken = bytes
        bytes.removeAll(keepingCapacity: true)
        return taken
    }

    // MARK: - Messages

    /// The field of `Metric` the value message goes to, set by the value writer.
    private var valueField: UInt64 = 0

    private mutating func writeMetric(
        _ labels: [(name: String, value: String)], _ timestampMs: Int64?, _ writeValue: (inout ProtobufWriter) -> Void
    ) {
        metric.removeAll(keepingCapacity: true)
        for (name, labelValue) in labels {
            value.removeAll(keepingCapacity: true)
            Self.string(MetricsProto.LabelPair.name, escaped(name, label: true), to: &value)
            Self.string(MetricsProto.LabelPair.value, labelValue, to: &value)
            Self.message(MetricsProto.Metric.label, value, to: &metric)
        }
        value.removeAll(keepingCapacity: true)
        writeValue(&self)
        Self.message(valueField, value, to: &metric)
        if let timestampMs { Self.varintField(MetricsProto.Metric.timestampMs, UInt64(bitPattern: timestampMs), to: &metric) }
        Self.message(MetricsProto.MetricFamily.metric, metric, to: &family)
    }

    /// A name as ``nameEscaping`` writes it.
    private func escaped(_ name: String, label: Bool) -> String {
        guard let nameEscaping, nameEscaping != .allowUTF8 else { return name }
        let bytes = Array(name.utf8)
        let escaped = NameRules.escape(bytes, nameEscaping, label: label)
        return escaped == bytes ? name : String(decoding: escaped, as: UTF8.self)
    }

    private mutating func closeFamily() {
        guard familyOpen else { return }
        Self.varint(UInt64(family.count), to: &bytes)
        bytes.append(contentsOf: family)
        family.removeAll(keepingCapacity: true)
        familyOpen = false
    }

    /// `MetricType` in metrics.proto.
    static func typeCode(_ type: MetricType) -> UInt64 {
        typealias T = MetricsProto.MetricType
        return switch type {
        case .counter: T.counter
        case .gauge: T.gauge
        case .summary: T.summary
        case .untyped: T.untyped
        case .histogram: T.histogram
        case .gaugeHistogram: T.gaugeHistogram
        }
    }

    /// `Counter`, `Gauge` or `Untyped`, each `double value = 1`.
    static func scalar(_ v: Double, type: MetricType, to out: inout [UInt8], field: inout UInt64) {
        field =
            switch type {
            case .counter: MetricsProto.Metric.counter
            case .gauge: MetricsProto.Metric.gauge
            default: MetricsProto.Metric.untyped
            }
        doubleField(MetricsProto.ScalarValue.value, v, to: &out)
    }

    /// `Summary`: sample count, sample sum and the quantiles.
    static func summary(_ s: SummaryValue, to out: inout [UInt8]) {
        typealias S = MetricsProto.Summary
        // The message has no float count; a summary's count is a whole number of observations.
        if let count = s.count { varintField(S.sampleCount, whole(count), to: &out) }
        if let sum = s.sum { doubleField(S.sampleSum, sum, to: &out) }
        for q in s.quantiles {
            var pair: [UInt8] = []
            doubleField(MetricsProto.Quantile.quantile, q.quantile, to: &pair)
            doubleField(MetricsProto.Quantile.value, q.value, to: &pair)
            message(S.quantile, pair, to: &out)
        }
    }

    /// `Histogram`: classic buckets (without `+Inf`, which readers take from the count, as
    /// client_golang writes it) and the native fields.
    static func histogram(classic: HistogramValue?, native: NativeHistogram?, to out: inout [UInt8]) {
        typealias H = MetricsProto.Histogram
        typealias B = MetricsProto.Bucket
        let count = native?.count ?? classic?.count ?? 0
        let floatCount = native?.floatCounts ?? !(classic?.buckets.allSatisfy { isWhole($0.count) } ?? true)
        if floatCount { doubleField(H.sampleCountFloat, count, to: &out) } else { varintField(H.sampleCount, whole(count), to: &out) }
        if let sum = native?.sum ?? classic?.sum { doubleField(H.sampleSum, sum, to: &out) }
        if let classic {
            for bucket in classic.buckets where bucket.upperBound != .infinity {
                var b: [UInt8] = []
                if floatCount {
                    doubleField(B.cumulativeCountFloat, bucket.count, to: &b)
                } else {
                    varintField(B.cumulativeCount, whole(bucket.count), to: &b)
                }
                doubleField(B.upperBound, bucket.upperBound, to: &b)
                message(H.bucket, b, to: &out)
            }
        }
        guard let native else { return }
        varintField(H.schema, UInt64(zigzag32(native.schema)), to: &out)
        doubleField(H.zeroThreshold, native.zeroThreshold, to: &out)
        if native.floatCounts {
            doubleField(H.zeroCountFloat, native.zeroCount, to: &out)
        } else {
            varintField(H.zeroCount, whole(native.zeroCount), to: &out)
        }
        buckets(
            native.negative, spanField: H.negativeSpan, deltaField: H.negativeDelta, countField: H.negativeCount, float: native.floatCounts,
            to: &out)
        buckets(
            native.positive, spanField: H.positiveSpan, deltaField: H.positiveDelta, countField: H.positiveCount, float: native.floatCounts,
            to: &out)
    }

    /// Sparse buckets as spans (a new span at every gap) and counts: delta-encoded integers
    /// or absolute floats. Repeated numbers are written unpacked, as client_golang does.
    static func buckets(
        _ buckets: [NativeHistogram.Bucket], spanField: UInt64, deltaField: UInt64, countField: UInt64, float: Bool,
        to out: inout [UInt8]
    ) {
        guard !buckets.isEmpty else { return }
        var start = 0
        var previousEnd: Int32 = 0
        while start < buckets.count {
            var end = start + 1
            while end < buckets.count, buckets[end].index == buckets[end - 1].index + 1 { end += 1 }
            var span: [UInt8] = []
            let offset = start == 0 ? buckets[start].index : buckets[start].index - previousEnd
            varintField(MetricsProto.BucketSpan.offset, UInt64(zigzag32(offset)), to: &span)
            varintField(MetricsProto.BucketSpan.length, UInt64(end - start), to: &span)
            message(spanField, span, to: &out)
            previousEnd = buckets[end - 1].index + 1
            start = end
        }
        var previous: Int64 = 0
        for bucket in buckets {
            if float {
                doubleField(countField, bucket.count, to: &out)
            } else {
                let count = Int64(bitPattern: whole(bucket.count))
                varintField(deltaField, zigzag64(count &- previous), to: &out)
                previous = count
            }
        }
    }

    // MARK: - Wire format

    static func isWhole(_ v: Double) -> Bool { v >= 0 && v < 0x1p63 && v == v.rounded(.towardZero) }

    /// A count as an unsigned integer: rounded, and clamped into range rather than trapping.
    static func whole(_ v: Double) -> UInt64 {
        guard v > 0, !v.isNaN else { return 0 }
        return v < 0x1p63 ? UInt64(v.rounded()) : 1 << 63
    }

    static func zigzag32(_ n: Int32) -> UInt32 { UInt32(bitPattern: (n << 1) ^ (n >> 31)) }

    static func zigzag64(_ n: Int64) -> UInt64 { UInt64(bitPattern: (n << 1) ^ (n >> 63)) }

    static func varint(_ value: UInt64, to out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    static func varintField(_ field: UInt64, _ value: UInt64, to out: inout [UInt8]) {
        varint(field << 3 | MetricsProto.Wire.varint, to: &out)
        varint(value, to: &out)
    }

    static func doubleField(_ field: UInt64, _ value: Double, to out: inout [UInt8]) {
        varint(field << 3 | MetricsProto.Wire.fixed64, to: &out)
        var bits = value.bitPattern
        for _ in 0..<8 {
            out.append(UInt8(truncatingIfNeeded: bits))
            bits >>= 8
        }
    }

    static func message(_ field: UInt64, _ body: [UInt8], to out: inout [UInt8]) {
        varint(field << 3 | MetricsProto.Wire.lengthDelimited, to: &out)
        varint(UInt64(body.count), to: &out)
        out.append(contentsOf: body)
    }

    static func string(_ field: UInt64, _ text: String, to out: inout [UInt8]) {
        varint(field << 3 | MetricsProto.Wire.lengthDelimited, to: &out)
        varint(UInt64(text.utf8.count), to: &out)
        out.append(contentsOf: text.utf8)
    }
}
