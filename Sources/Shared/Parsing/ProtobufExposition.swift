/// Reads the Prometheus protobuf exposition (`application/vnd.google.protobuf;
/// proto=io.prometheus.client.MetricFamily; encoding=delimited`), which Go clients push
/// by default.
///
/// The families are translated into the text format and handed to ``ExpositionParser``,
/// so both formats share one set of rules (clearmode, grouping labels, validation).
/// Native histograms have no text form: their fields are read on the side and attached to
/// the parsed series afterwards (``NativeHistogramFields``), the text carrying their classic
/// buckets, or only `_sum` and `_count`, so that labels and rules still come from one parser.
public enum ProtobufExposition {
    /// Whether a `Content-Type` names the delimited protobuf format.
    public static func matches(contentType: String?) -> Bool {
        guard let contentType else { return false }
        return contentType.contains("application/vnd.google.protobuf")
    }

    /// Parses a delimited stream of `MetricFamily` messages.
    public static func parse(
        _ body: UnsafeRawBufferPointer, grouping: GroupingKey = .empty, limits: ParseLimits = ParseLimits()
    ) throws(ExpositionError) -> ParsedPush {
        try ExpositionParser.checkGrouping(grouping, limits)
        var natives = NativeSideTable()
        let text = try translate(body, limits: limits, natives: &natives)
        do {
            var push = try ExpositionParser.parse(text, format: .text, grouping: grouping, limits: limits)
            natives.attach(to: &push)
            return push
        } catch {
            throw ExpositionError(error.code, "protobuf body, as text \(error.description)", line: 0)
        }
    }

    /// The text-format equivalent of a delimited protobuf body.
    ///
    /// Each metric is written out as it is decoded, so memory follows the text, and the
    /// text is cut off at `limits.maxExpandedBytes`: every bucket line repeats its series'
    /// name and labels, which a few bytes of protobuf can make arbitrarily many of.
    public static func translate(_ body: UnsafeRawBufferPointer, limits: ParseLimits = ParseLimits()) throws(ExpositionError) -> [UInt8] {
        var natives = NativeSideTable()
        return try translate(body, limits: limits, natives: &natives)
    }

    static func translate(
        _ body: UnsafeRawBufferPointer, limits: ParseLimits, natives: inout NativeSideTable
    ) throws(ExpositionError) -> [UInt8] {
        var reader = WireReader(body, start: 0, end: body.count)
        var out = TextOut(limit: limits.maxExpandedBytes)
        out.bytes.reserveCapacity(min(body.count * 2, limits.maxExpandedBytes))
        var index = 0
        var declared: [String: UInt64] = [:]
        while !reader.atEnd {
            index += 1
            let length = try reader.varint(context: "length of metric family \(index)")
            guard length <= UInt64(reader.remaining) else {
                throw ExpositionError(.syntax, "protobuf: metric family \(index) is truncated", line: 0)
            }
            let message = reader.sub(Int(length))
            let family = try decodeFamily(message, index: index, utf8Names: limits.utf8Names)
            // Two messages for one name are one family, as the Pushgateway merges them: its
            // metrics follow the first message's, under one header.
            if let type = declared[family.name] {
                guard type == family.type else {
                    throw ExpositionError(
                        .typeMismatch,
                        "protobuf: metric family \(ErrorText.token(family.name)) appears twice with different types", line: 0)
                }
            } else {
                try family.appendHeader(to: &out)
                declared[family.name] = family.type
            }
            var r = message
            while !r.atEnd {
                let (field, wire) = try r.tag()
                guard field == MetricsProto.MetricFamily.metric, wire == MetricsProto.Wire.lengthDelimited else {
                    try r.skip(wire)
                    continue
                }
                let metric = try decodeMetric(try r.message(), limits: limits)
                try family.appendText(of: metric, to: &out, natives: &natives)
            }
        }
        return out.bytes
    }

    /// Translated text with its size limit.
    struct TextOut {
        var bytes: [UInt8] = []
        let limit: Int

        mutating func check() throws(ExpositionError) {
            guard bytes.count <= limit else {
                throw ExpositionError(
                    .tooLarge,
                    "protobuf body: its series would take more than \(limit) bytes written out as text (\(ParseLimits.Flag.expandedBytes)); "
                        + "send fewer series per push or fewer labels per series",
                    line: 0)
            }
        }
    }

    // MARK: - Messages

    /// A family's name, help and type; its metrics are decoded one at a time.
    struct Family {
        var name = ""
        var help: String?
        var type: UInt64 = MetricsProto.MetricType.untyped
        /// Whether the name is a legacy one, written without quotes.
        var legacyName = true
    }

    struct Metric {
        var labels: [(String, String)] = []
        var kind: UInt64?  // The field number of the value message.
        var value = 0.0
        var count: Double?
        var sum: Double?
        var buckets: [(bound: Double, count: Double)] = []
        var quantiles: [(q: Double, v: Double)] = []
        var native = NativeHistogramFields()
        var countIsFloat = false
        var timestampMs: Int64?
    }

    static func decodeFamily(_ r: WireReader, index: Int, utf8Names: Bool) throws(ExpositionError) -> Family {
        typealias F = MetricsProto.MetricFamily
        typealias W = MetricsProto.Wire
        var r = r
        var family = Family()
        while !r.atEnd {
            let (field, wire) = try r.tag()
            switch (field, wire) {
            case (F.name, W.lengthDelimited): family.name = try r.string()
            case (F.help, W.lengthDelimited): family.help = try r.string()
            case (F.type, W.varint): family.type = try r.varint(context: "type")
            default: try r.skip(wire)
            }
        }
        guard !family.name.isEmpty else {
            throw ExpositionError(.invalidName, "protobuf: metric family \(index) has no name", line: 0)
        }
        // The name is written into text lines as it is (quoted when it is a UTF-8 name):
        // anything else would change what the lines say.
        family.legacyName = NameRules.isLegacyMetricName(family.name.utf8)
        try checkName(family.name, utf8Names: utf8Names, legacy: family.legacyName, "metric name")
        return family
    }

    static func checkName(_ name: String, utf8Names: Bool, legacy: Bool, _ what: String) throws(ExpositionError) {
        if legacy { return }
        let code: ExpositionError.Code = what == "label name" ? .invalidLabel : .invalidName
        guard utf8Names else {
            throw ExpositionError(
                code,
                "protobuf: invalid \(what) \(name.isEmpty ? "(empty)" : ErrorText.token(name))"
                    + (name.isEmpty ? "" : "; UTF-8 names need \(ParseLimits.Flag.utf8Names)"), line: 0)
        }
        let problem =
            code == .invalidLabel ? NameRules.problem(withUTF8LabelName: name.utf8) : NameRules.problem(withUTF8Name: name.utf8)
        if let problem {
            throw ExpositionError(code, "protobuf: invalid \(what) \(ErrorText.token(name)): \(problem)", line: 0)
        }
    }

    static func decodeMetric(_ r: WireReader, limits: ParseLimits) throws(ExpositionError) -> Metric {
        typealias M = MetricsProto.Metric
        typealias W = MetricsProto.Wire
        typealias H = MetricsProto.Histogram
        typealias S = MetricsProto.Summary
        var r = r
        var metric = Metric()
        while !r.atEnd {
            let (field, wire) = try r.tag()
            switch (field, wire) {
            case (M.label, W.lengthDelimited):
                var pair = try r.message()
                var name = "", value = ""
                while !pair.atEnd {
                    let (f, w) = try pair.tag()
                    switch (f, w) {
                    case (MetricsProto.LabelPair.name, W.lengthDelimited): name = try pair.string()
                    case (MetricsProto.LabelPair.value, W.lengthDelimited): value = try pair.string()
                    default: try pair.skip(w)
                    }
                }
                try checkName(name, utf8Names: limits.utf8Names, legacy: LabelName.isValid(name), "label name")
                // Room for clearmode and le or quantile, as in the text parser.
                guard metric.labels.count < limits.maxLabelsPerSeries + 2 else {
                    throw ExpositionError(
                        .limitExceeded,
                        "protobuf: a series has more than \(limits.maxLabelsPerSeries) labels, the limit per series (\(ParseLimits.Flag.labelsPerSeries))",
                        line: 0)
                }
                metric.labels.append((name, value))
            case (M.gauge, W.lengthDelimited), (M.counter, W.lengthDelimited), (M.untyped, W.lengthDelimited):
                metric.kind = field
                var m = try r.message()
                while !m.atEnd {
                    let (f, w) = try m.tag()
                    if f == MetricsProto.ScalarValue.value, w == W.fixed64 { metric.value = try m.double() } else { try m.skip(w) }
                }
            case (M.summary, W.lengthDelimited):
                metric.kind = M.summary
                var m = try r.message()
                while !m.atEnd {
                    let (f, w) = try m.tag()
                    switch (f, w) {
                    case (S.sampleCount, W.varint): metric.count = Double(try m.varint(context: "sample_count"))
                    case (S.sampleSum, W.fixed64): metric.sum = try m.double()
                    case (S.quantile, W.lengthDelimited):
                        var q = try m.message()
                        var quantile = 0.0, value = 0.0
                        while !q.atEnd {
                            let (qf, qw) = try q.tag()
                            switch (qf, qw) {
                            case (MetricsProto.Quantile.quantile, W.fixed64): quantile = try q.double()
                            case (MetricsProto.Quantile.value, W.fixed64): value = try q.double()
                            default: try q.skip(qw)
                            }
                        }
                        guard metric.quantiles.count < limits.maxQuantiles else {
                            throw ExpositionError(
                                .limitExceeded,
                                "protobuf: a summary has more than \(limits.maxQuantiles) quantiles, the limit (\(ParseLimits.Flag.quantiles))",
                                line: 0)
                        }
                        metric.quantiles.append((quantile, value))
                    default: try m.skip(w)
                    }
                }
            case (M.histogram, W.lengthDelimited):
                metric.kind = M.histogram
                var m = try r.message()
                while !m.atEnd {
                    let (f, w) = try m.tag()
                    switch (f, w) {
                    case (H.sampleCount, W.varint): metric.count = Double(try m.varint(context: "sample_count"))
                    case (H.sampleCountFloat, W.fixed64):
                        metric.count = try m.double()
                        metric.countIsFloat = true
                    case (H.sampleSum, W.fixed64): metric.sum = try m.double()
                    case (H.bucket, W.lengthDelimited):
                        var b = try m.message()
                        var bound = 0.0, count = 0.0
                        while !b.atEnd {
                            let (bf, bw) = try b.tag()
                            switch (bf, bw) {
                            case (MetricsProto.Bucket.cumulativeCount, W.varint): count = Double(try b.varint(context: "cumulative_count"))
                            case (MetricsProto.Bucket.cumulativeCountFloat, W.fixed64): count = try b.double()
                            case (MetricsProto.Bucket.upperBound, W.fixed64): bound = try b.double()
                            default: try b.skip(bw)
                            }
                        }
                        guard metric.buckets.count < limits.maxBuckets else {
                            throw ExpositionError(
                                .limitExceeded,
                                "protobuf: a histogram has more than \(limits.maxBuckets) buckets, the limit (\(ParseLimits.Flag.buckets))",
                                line: 0)
                        }
                        metric.buckets.append((bound, count))
                    case (let f, _) where NativeHistogramFields.owns(f):
                        try metric.native.read(field: f, wire: w, from: &m)
                    default: try m.skip(w)
                    }
                }
            case (M.timestampMs, W.varint):
                metric.timestampMs = Int64(bitPattern: try r.varint(context: "timestamp_ms"))
            default:
                try r.skip(wire)
            }
        }
        return metric
    }
}

extension ProtobufExposition.Family {
    var typeName: String? {
        typealias T = MetricsProto.MetricType
        switch type {
        case T.counter: return "counter"
        case T.gauge: return "gauge"
        case T.summary: return "summary"
        case T.untyped: return "untyped"
        case T.histogram: return "histogram"
        // A gauge histogram stays one (replaced, not summed, by default): the text parser
        // reads this declaration and the `_gsum`/`_gcount` lines written for it.
        case T.gaugeHistogram: return "gaugehistogram"
        default: return nil
        }
    }

    /// The family's name as metadata lines write it: quoted when it is a UTF-8 name.
    func appendName(to out: inout [UInt8]) {
        if legacyName {
            out.append(contentsOf: name.utf8)
        } else {
            NameRules.appendQuoted(name.utf8, to: &out)
        }
    }

    /// Writes `# HELP` and `# TYPE`.
    func appendHeader(to out: inout ProtobufExposition.TextOut) throws(ExpositionError) {
        guard let typeName else {
            throw ExpositionError(.metadata, "protobuf: \(ErrorText.token(name)) has unknown metric type \(type)", line: 0)
        }
        if let help, !help.isEmpty {
            out.bytes.append(contentsOf: "# HELP ".utf8)
            appendName(to: &out.bytes)
            out.bytes.append(0x20)
            for b in help.utf8 {
                switch b {
                case 0x5C: out.bytes.append(contentsOf: [0x5C, 0x5C])
                case 0x0A: out.bytes.append(contentsOf: [0x5C, UInt8(ascii: "n")])
                default: out.bytes.append(b)
                }
            }
            out.bytes.append(0x0A)
        }
        out.bytes.append(contentsOf: "# TYPE ".utf8)
        appendName(to: &out.bytes)
        out.bytes.append(contentsOf: " \(typeName)\n".utf8)
        try out.check()
    }

    /// Writes one metric as text 0.0.4 lines.
    func appendText(
        of metric: ProtobufExposition.Metric, to out: inout ProtobufExposition.TextOut,
        natives: inout ProtobufExposition.NativeSideTable
    ) throws(ExpositionError) {
        typealias T = MetricsProto.MetricType
        switch type {
        case T.summary:
            for q in metric.quantiles { try line(&out, "", metric, ("quantile", q.q), q.v, metric.timestampMs) }
            if let sum = metric.sum { try line(&out, "_sum", metric, nil, sum, nil) }
            if let count = metric.count { try line(&out, "_count", metric, nil, count, nil) }
        case T.histogram, T.gaugeHistogram:
            if metric.native.present {
                try natives.record(metric, family: name, startingAt: out.bytes)
            }
            let gauge = type == T.gaugeHistogram
            for b in metric.buckets { try line(&out, "_bucket", metric, ("le", b.bound), b.count, nil) }
            if let sum = metric.sum { try line(&out, gauge ? "_gsum" : "_sum", metric, nil, sum, nil) }
            try line(&out, gauge ? "_gcount" : "_count", metric, nil, metric.count ?? metric.buckets.last?.count ?? 0, nil)
        default:
            try line(&out, "", metric, nil, metric.value, metric.timestampMs)
        }
    }

    func line(
        _ out: inout ProtobufExposition.TextOut, _ suffix: String, _ metric: ProtobufExposition.Metric,
        _ bound: (String, Double)?, _ value: Double, _ timestampMs: Int64?
    ) throws(ExpositionError) {
        var first = true
        if legacyName {
            out.bytes.append(contentsOf: name.utf8)
            out.bytes.append(contentsOf: suffix.utf8)
            out.bytes.append(UInt8(ascii: "{"))
        } else {
            out.bytes.append(UInt8(ascii: "{"))
            NameRules.appendQuoted((name + suffix).utf8, to: &out.bytes)
            first = false
        }
        for (labelName, labelValue) in metric.labels {
            if !first { out.bytes.append(UInt8(ascii: ",")) }
            first = false
            LabelKey.appendName(labelName, to: &out.bytes)
            out.bytes.append(contentsOf: "=\"".utf8)
            LabelKey.appendEscaped(labelValue, to: &out.bytes)
            out.bytes.append(UInt8(ascii: "\""))
        }
        if let (labelName, boundValue) = bound {
            if !first { out.bytes.append(UInt8(ascii: ",")) }
            out.bytes.append(contentsOf: "\(labelName)=\"".utf8)
            NumberFormatting.appendDouble(boundValue, to: &out.bytes)
            out.bytes.append(UInt8(ascii: "\""))
        }
        out.bytes.append(contentsOf: "} ".utf8)
        NumberFormatting.appendDouble(value, to: &out.bytes)
        if let timestampMs {
            out.bytes.append(0x20)
            NumberFormatting.appendInt(timestampMs, to: &out.bytes)
        }
        out.bytes.append(0x0A)
        try out.check()
    }
}

/// A cursor over protobuf wire-format bytes.
struct WireReader {
    let base: UnsafeRawBufferPointer
    var position: Int
    let end: Int

    init(_ base: UnsafeRawBufferPointer, start: Int, end: Int) {
        self.base = base
        self.position = start
        self.end = end
    }

    var atEnd: Bool { position >= end }
    var remaining: Int { end - position }

    func truncated(_ what: String) -> ExpositionError {
        ExpositionError(.syntax, "protobuf: truncated \(what) at byte \(position)", line: 0)
    }

    mutating func varint(context: String) throws(ExpositionError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < end, shift < 64 else { throw truncated(context) }
            let byte = base[position]
            position += 1
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }

    mutating func tag() throws(ExpositionError) -> (field: UInt64, wire: UInt64) {
        let key = try varint(context: "field tag")
        return (key >> 3, key & 7)
    }

    mutating func double() throws(ExpositionError) -> Double {
        guard remaining >= 8 else { throw truncated("double") }
        var bits: UInt64 = 0
        for k in 0..<8 { bits |= UInt64(base[position + k]) << (8 * UInt64(k)) }
        position += 8
        return Double(bitPattern: bits)
    }

    mutating func sub(_ length: Int) -> WireReader {
        let reader = WireReader(base, start: position, end: position + length)
        position += length
        return reader
    }

    mutating func message() throws(ExpositionError) -> WireReader {
        let length = try varint(context: "length")
        guard length <= UInt64(remaining) else { throw truncated("message") }
        return sub(Int(length))
    }

    mutating func string() throws(ExpositionError) -> String {
        let reader = try message()
        let bytes = UnsafeRawBufferPointer(rebasing: base[reader.position..<reader.end])
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ExpositionError(.invalidUTF8, "protobuf: a string is not valid UTF-8", line: 0)
        }
        return text
    }

    mutating func skip(_ wire: UInt64) throws(ExpositionError) {
        typealias W = MetricsProto.Wire
        switch wire {
        case W.varint: _ = try varint(context: "varint")
        case W.fixed64:
            guard remaining >= 8 else { throw truncated("fixed64") }
            position += 8
        case W.lengthDelimited: _ = try message()
        case W.fixed32:
            guard remaining >= 4 else { throw truncated("fixed32") }
            position += 4
        default: throw ExpositionError(.syntax, "protobuf: unsupported wire type \(wire) at byte \(position)", line: 0)
        }
    }
}
