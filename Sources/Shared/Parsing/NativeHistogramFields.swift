/// The native-histogram fields of a protobuf `Histogram` message, as read, before they are
/// checked and turned into a ``NativeHistogram``.
///
/// Field numbers from `io.prometheus.client.Histogram`: schema 5 (sint32), zero_threshold 6,
/// zero_count 7, zero_count_float 8, negative_span 9, negative_delta 10 (sint64),
/// negative_count 11 (double), positive_span 12, positive_delta 13, positive_count 14.
/// Repeated numbers are accepted packed and unpacked, as protobuf readers must.
struct NativeHistogramFields {
    struct Span {
        var offset: Int32
        var length: UInt32
    }

    var present = false
    var schema: Int32 = 0
    var zeroThreshold = 0.0
    var zeroCount: UInt64 = 0
    var zeroCountFloat: Double?
    var negativeSpans: [Span] = []
    var negativeDeltas: [Int64] = []
    var negativeCounts: [Double] = []
    var positiveSpans: [Span] = []
    var positiveDeltas: [Int64] = []
    var positiveCounts: [Double] = []

    /// Whether `field` of a `Histogram` message belongs here.
    static func owns(_ field: UInt64) -> Bool {
        (MetricsProto.Histogram.schema...MetricsProto.Histogram.positiveCount).contains(field)
    }

    /// Reads one field of the `Histogram` message (its tag already read).
    mutating func read(field: UInt64, wire: UInt64, from r: inout WireReader) throws(ExpositionError) {
        typealias H = MetricsProto.Histogram
        typealias W = MetricsProto.Wire
        present = true
        switch (field, wire) {
        case (H.schema, W.varint): schema = Self.zigzag32(try r.varint(context: "schema"))
        case (H.zeroThreshold, W.fixed64): zeroThreshold = try r.double()
        case (H.zeroCount, W.varint): zeroCount = try r.varint(context: "zero_count")
        case (H.zeroCountFloat, W.fixed64): zeroCountFloat = try r.double()
        case (H.negativeSpan, W.lengthDelimited): negativeSpans.append(try Self.span(try r.message()))
        case (H.positiveSpan, W.lengthDelimited): positiveSpans.append(try Self.span(try r.message()))
        case (H.negativeDelta, W.varint): negativeDeltas.append(Self.zigzag64(try r.varint(context: "negative_delta")))
        case (H.positiveDelta, W.varint): positiveDeltas.append(Self.zigzag64(try r.varint(context: "positive_delta")))
        case (H.negativeDelta, W.lengthDelimited), (H.positiveDelta, W.lengthDelimited):
            var packed = try r.message()
            while !packed.atEnd {
                let delta = Self.zigzag64(try packed.varint(context: "packed delta"))
                if field == H.negativeDelta { negativeDeltas.append(delta) } else { positiveDeltas.append(delta) }
            }
        case (H.negativeCount, W.fixed64): negativeCounts.append(try r.double())
        case (H.positiveCount, W.fixed64): positiveCounts.append(try r.double())
        case (H.negativeCount, W.lengthDelimited), (H.positiveCount, W.lengthDelimited):
            var packed = try r.message()
            while !packed.atEnd {
                let count = try packed.double()
                if field == H.negativeCount { negativeCounts.append(count) } else { positiveCounts.append(count) }
            }
        default:
            try r.skip(wire)
        }
    }

    /// The checked histogram: `count` and `sum` are the message's `sample_count` (or
    /// `sample_count_float`) and `sample_sum`.
    func histogram(name: String, count: Double, countIsFloat: Bool, sum: Double) throws(ExpositionError) -> NativeHistogram {
        func refuse(_ why: String) -> ExpositionError {
            ExpositionError(.invalidHistogram, "protobuf: native histogram \(name) \(why)", line: 0)
        }
        guard NativeHistogram.schemas.contains(schema) else {
            throw refuse("has schema \(schema); Prometheus defines -4 to 8")
        }
        guard zeroThreshold >= 0, zeroThreshold.isFinite else {
            throw refuse("has zero threshold \(zeroThreshold); it must be finite and not negative")
        }
        let floatCounts = countIsFloat || zeroCountFloat != nil || !positiveCounts.isEmpty || !negativeCounts.isEmpty
        if floatCounts, !positiveDeltas.isEmpty || !negativeDeltas.isEmpty {
            throw refuse("mixes integer bucket deltas with float bucket counts")
        }
        let positive = try Self.buckets(positiveSpans, positiveDeltas, positiveCounts, floatCounts, side: "positive", refuse)
        let negative = try Self.buckets(negativeSpans, negativeDeltas, negativeCounts, floatCounts, side: "negative", refuse)
        let zero = zeroCountFloat ?? Double(zeroCount)
        guard zero >= 0, zero.isFinite else { throw refuse("has zero count \(zero)") }
        // NaN observations are counted but sit in no bucket, so the count may be larger.
        let inBuckets = positive.reduce(zero) { $0 + $1.count } + negative.reduce(0) { $0 + $1.count }
        guard count >= inBuckets else {
            throw refuse("has count \(count) but \(inBuckets) observations in its buckets")
        }
        return NativeHistogram(
            schema: schema, zeroThreshold: zeroThreshold, zeroCount: zero, count: count, sum: sum,
            positive: positive, negative: negative, floatCounts: floatCounts)
    }

    /// Spans and delta-encoded (integer) or absolute (float) counts to sorted, non-empty buckets.
    static func buckets(
        _ spans: [Span], _ deltas: [Int64], _ counts: [Double], _ floatCounts: Bool, side: String,
        _ refuse: (String) -> ExpositionError
    ) throws(ExpositionError) -> [NativeHistogram.Bucket] {
        let values = floatCounts ? counts.count : deltas.count
        let lengths = spans.reduce(0) { $0 + Int($1.length) }
        guard lengths == values else {
            throw refuse("has \(side) spans covering \(lengths) buckets but \(values) bucket counts")
        }
        var result: [NativeHistogram.Bucket] = []
        result.reserveCapacity(values)
        var index: Int64 = 0
        var value = 0
        var running: Int64 = 0
        // Indices stay far from Int32's ends, so reducing and bounding them never overflows.
        let limit: Int64 = 1 << 28
        for (n, span) in spans.enumerated() {
            // The first span's offset is the first index; each next one is the gap after the previous span.
            index = n == 0 ? Int64(span.offset) : index + Int64(span.offset)
            for _ in 0..<span.length {
                guard abs(index) < limit else { throw refuse("has \(side) bucket index \(index) out of range") }
                let count: Double
                if floatCounts {
                    count = counts[value]
                } else {
                    let (next, overflow) = running.addingReportingOverflow(deltas[value])
                    guard !overflow else { throw refuse("has \(side) bucket counts that overflow") }
                    running = next
                    count = Double(running)
                }
                guard count >= 0, count.isFinite else { throw refuse("has \(side) bucket count \(count)") }
                if count > 0 { result.append(NativeHistogram.Bucket(index: Int32(index), count: count)) }
                value += 1
                index += 1
            }
        }
        return result
    }

    static func span(_ r: WireReader) throws(ExpositionError) -> Span {
        var r = r
        var span = Span(offset: 0, length: 0)
        while !r.atEnd {
            let (field, wire) = try r.tag()
            switch (field, wire) {
            case (MetricsProto.BucketSpan.offset, MetricsProto.Wire.varint): span.offset = zigzag32(try r.varint(context: "span offset"))
            case (MetricsProto.BucketSpan.length, MetricsProto.Wire.varint):
                span.length = UInt32(truncatingIfNeeded: try r.varint(context: "span length"))
            default: try r.skip(wire)
            }
        }
        return span
    }

    static func zigzag32(_ raw: UInt64) -> Int32 {
        let n = UInt32(truncatingIfNeeded: raw)
        return Int32(bitPattern: (n >> 1) ^ (0 &- (n & 1)))
    }

    static func zigzag64(_ raw: UInt64) -> Int64 {
        Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }
}
