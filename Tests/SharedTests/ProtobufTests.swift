import Shared
import Testing

/// A minimal protobuf writer for test inputs, following io.prometheus.client's metrics.proto.
struct ProtoWriter {
    var bytes: [UInt8] = []

    mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }
    mutating func tag(_ field: UInt64, _ wire: UInt64) { varint(field << 3 | wire) }
    mutating func string(_ field: UInt64, _ s: String) {
        tag(field, 2)
        varint(UInt64(s.utf8.count))
        bytes += s.utf8
    }
    mutating func double(_ field: UInt64, _ d: Double) {
        tag(field, 1)
        for k in 0..<8 { bytes.append(UInt8((d.bitPattern >> (8 * UInt64(k))) & 0xFF)) }
    }
    mutating func uint(_ field: UInt64, _ v: UInt64) {
        tag(field, 0)
        varint(v)
    }
    mutating func message(_ field: UInt64, _ build: (inout ProtoWriter) -> Void) {
        var inner = ProtoWriter()
        build(&inner)
        tag(field, 2)
        varint(UInt64(inner.bytes.count))
        bytes += inner.bytes
    }
    /// A `LabelPair` in a `Metric` (field 1).
    mutating func label(_ name: String, _ value: String) {
        message(1) {
            $0.string(1, name)
            $0.string(2, value)
        }
    }
    mutating func delimited(_ build: (inout ProtoWriter) -> Void) {
        var inner = ProtoWriter()
        build(&inner)
        varint(UInt64(inner.bytes.count))
        bytes += inner.bytes
    }
}

@Suite("Protobuf push format")
struct ProtobufTests {
    @Test("Counters, gauges, summaries and histograms translate with their labels")
    func families() throws {
        var w = ProtoWriter()
        w.delimited { f in
            f.string(1, "requests_total")
            f.string(2, "Requests \"served\".")
            f.uint(3, 0)
            f.message(4) { m in
                m.label("code", "200")
                m.message(3) { $0.double(1, 7) }
            }
            f.message(4) { m in
                m.label("code", "5\"00")
                m.message(3) { $0.double(1, 1) }
            }
        }
        w.delimited { f in
            f.string(1, "temperature")
            f.uint(3, 1)
            f.message(4) { m in
                m.label("clearmode", "max5m")
                m.message(2) { $0.double(1, 21.5) }
            }
        }
        w.delimited { f in
            f.string(1, "latency")
            f.uint(3, 2)
            f.message(4) { m in
                m.message(4) { s in
                    s.uint(1, 10)
                    s.double(2, 4.5)
                    s.message(3) {
                        $0.double(1, 0.5)
                        $0.double(2, 0.3)
                    }
                }
            }
        }
        w.delimited { f in
            f.string(1, "size")
            f.uint(3, 4)
            f.message(4) { m in
                m.message(7) { h in
                    h.uint(1, 5)
                    h.double(2, 12)
                    h.message(3) {
                        $0.uint(1, 2)
                        $0.double(2, 1)
                    }
                    h.message(3) {
                        $0.uint(1, 4)
                        $0.double(2, 10)
                    }
                }
            }
        }
        let push = try w.bytes.withUnsafeBytes { raw in
            try Result { () throws(ExpositionError) in try ProtobufExposition.parse(raw, grouping: GroupingKey(labels: [("job", "go")])) }
                .get()
        }
        #expect(push.families.map(\.name) == ["requests_total", "temperature", "latency", "size"])
        #expect(push.family("requests_total")?.help == "Requests \"served\".")
        #expect(push.family("requests_total")?.series.map(\.key.description) == [#"{code="200",job="go"}"#, #"{code="5\"00",job="go"}"#])
        #expect(push.family("temperature")?.series[0].mode == ClearMode("max5m"))
        #expect(
            push.family("latency")?.series[0].value
                == .summary(SummaryValue(quantiles: [Quantile(quantile: 0.5, value: 0.3)], sum: 4.5, count: 10)))
        guard case .histogram(let h) = push.family("size")?.series[0].value else {
            Issue.record("not a histogram")
            return
        }
        // Go clients leave out the +Inf bucket; the count supplies it.
        #expect(h.buckets == [Bucket(upperBound: 1, count: 2), Bucket(upperBound: 10, count: 4), Bucket(upperBound: .infinity, count: 5)])
        #expect(h.sum == 12)
    }

    @Test("A gauge histogram stays a gauge histogram (replaced by default, not summed)")
    func gaugeHistogram() throws {
        var w = ProtoWriter()
        w.delimited { f in
            f.string(1, "queue")
            f.uint(3, 5)  // GAUGE_HISTOGRAM
            f.message(4) { m in
                m.message(7) { h in
                    h.uint(1, 5)
                    h.double(2, 7)
                    h.message(3) {
                        $0.uint(1, 2)
                        $0.double(2, 1)
                    }
                }
            }
        }
        let push = try w.bytes.withUnsafeBytes { raw in
            try Result { () throws(ExpositionError) in try ProtobufExposition.parse(raw) }.get()
        }
        let family = try #require(push.family("queue"))
        #expect(family.type == .gaugeHistogram)
        #expect(family.series[0].mode == .replace)
        #expect(
            family.series[0].value
                == .histogram(HistogramValue(buckets: [Bucket(upperBound: 1, count: 2), Bucket(upperBound: .infinity, count: 5)], sum: 7)))
    }

    @Test("Two messages for one family name are one family; different types are refused")
    func repeatedFamily() throws {
        func body(secondType: UInt64) -> [UInt8] {
            var w = ProtoWriter()
            for (value, type) in [(1.0, UInt64(0)), (2.0, secondType)] {
                w.delimited { f in
                    f.string(1, "jobs_total")
                    f.uint(3, type)
                    f.message(4) { m in
                        m.label("queue", value == 1 ? "a" : "b")
                        m.message(3) { $0.double(1, value) }
                    }
                }
            }
            return w.bytes
        }
        let push = try body(secondType: 0).withUnsafeBytes { raw in
            try Result { () throws(ExpositionError) in try ProtobufExposition.parse(raw) }.get()
        }
        #expect(push.families.count == 1)
        #expect(push.family("jobs_total")?.series.map(\.value) == [.scalar(1), .scalar(2)])
        let mixed = body(secondType: 1).withUnsafeBytes { raw in
            Result { () throws(ExpositionError) in try ProtobufExposition.parse(raw) }
        }
        guard case .failure(let error) = mixed else {
            Issue.record("two types for one name were accepted")
            return
        }
        #expect(error.message.contains("appears twice with different types"))
    }

    @Test("Truncated messages and inconsistent native histograms are refused")
    func refusals() {
        var truncated = ProtoWriter()
        truncated.varint(40)
        truncated.string(1, "x")
        // Spans that cover two buckets with one count.
        var native = ProtoWriter()
        native.delimited { f in
            f.string(1, "h")
            f.uint(3, 4)
            f.message(4) { m in
                m.message(7) { h in
                    h.uint(1, 3)
                    h.tag(5, 0)
                    h.varint(3)
                    h.message(12) { $0.uint(2, 2) }
                    h.tag(13, 0)
                    h.varint(2)
                }
            }
        }
        for body in [truncated.bytes, native.bytes] {
            let result = body.withUnsafeBytes { raw in
                Result { () throws(ExpositionError) in try ProtobufExposition.parse(raw) }
            }
            guard case .failure(let error) = result else {
                Issue.record("accepted")
                continue
            }
            #expect(error.message.contains("protobuf"))
        }
    }
}
