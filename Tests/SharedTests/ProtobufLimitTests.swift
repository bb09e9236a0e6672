import Shared
import Testing

@Suite("Protobuf bodies are bounded by their size")
struct ProtobufLimitTests {
    func parse(_ w: ProtoWriter, limits: ParseLimits = ParseLimits()) throws(ExpositionError) -> ParsedPush {
        try w.bytes.withUnsafeBytes { raw in
            Result { () throws(ExpositionError) in try ProtobufExposition.parse(raw, limits: limits) }
        }.get()
    }

    func error(_ w: ProtoWriter, limits: ParseLimits = ParseLimits()) -> ExpositionError? {
        do {
            _ = try parse(w, limits: limits)
            return nil
        } catch {
            return error
        }
    }

    /// A histogram whose every (empty, two-byte) bucket repeats a long label in text.
    func histogram(labelBytes: Int, buckets: Int) -> ProtoWriter {
        var w = ProtoWriter()
        w.delimited { f in
            f.string(1, "h")
            f.uint(3, 4)
            f.message(4) { m in
                m.label("big", String(repeating: "b", count: labelBytes))
                m.message(7) { h in
                    for _ in 0..<buckets { h.message(3) { _ in } }
                }
            }
        }
        return w
    }

    @Test("Buckets that repeat a long label stop at the expansion limit, not at gigabytes")
    func bucketExpansion() {
        let w = histogram(labelBytes: 4000, buckets: 1000)  // 6 KB of protobuf, 4 MB of text
        #expect(w.bytes.count < 8000)
        let refusal = error(w, limits: ParseLimits(maxExpandedBytes: 1 << 20))
        #expect(refusal?.code == .tooLarge)
        #expect(refusal?.message.contains("--max-body-bytes") == true)
    }

    @Test("Empty metrics of a long-named family stop at the expansion limit")
    func metricExpansion() {
        var w = ProtoWriter()
        w.delimited { f in
            f.string(1, String(repeating: "n", count: 1000))
            f.uint(3, 1)
            for _ in 0..<100_000 { f.message(4) { _ in } }
        }
        #expect(error(w, limits: ParseLimits(maxExpandedBytes: 1 << 20))?.code == .tooLarge)
    }

    @Test("Buckets, quantiles and labels per series are limited while decoding")
    func perSeriesLimits() {
        #expect(error(histogram(labelBytes: 1, buckets: 5), limits: ParseLimits(maxBuckets: 4))?.message.contains("--max-buckets") == true)

        var summary = ProtoWriter()
        summary.delimited { f in
            f.string(1, "s")
            f.uint(3, 2)
            f.message(4) { m in m.message(4) { s in for q in 0..<5 { s.message(3) { $0.double(1, Double(q) / 10) } } } }
        }
        #expect(error(summary, limits: ParseLimits(maxQuantiles: 4))?.message.contains("--max-quantiles") == true)

        var labels = ProtoWriter()
        labels.delimited { f in
            f.string(1, "g")
            f.uint(3, 1)
            f.message(4) { m in
                for k in 0..<100 {
                    m.label("l\(k)", "v")
                }
                m.message(2) { $0.double(1, 1) }
            }
        }
        #expect(error(labels, limits: ParseLimits(maxLabelsPerSeries: 10))?.message.contains("--max-labels-per-series") == true)
    }

    @Test(
        "Names that are not names cannot write text of their own",
        arguments: [
            ("g 1\n# TYPE x", "a"), ("g", "a=\"1\",le"), ("g", "a\n"), ("g", ""),
        ])
    func names(metric: String, label: String) {
        var w = ProtoWriter()
        w.delimited { f in
            f.string(1, metric)
            f.uint(3, 1)
            f.message(4) { m in
                m.label(label, "v")
                m.message(2) { $0.double(1, 1) }
            }
        }
        let refusal = error(w)
        #expect(refusal?.code == .invalidName || refusal?.code == .invalidLabel)
    }

    @Test("A carriage return in a protobuf label value is refused like one in text")
    func controlByteInValue() {
        var w = ProtoWriter()
        w.delimited { f in
            f.string(1, "g")
            f.uint(3, 1)
            f.message(4) { m in
                m.label("a", "x\ry")
                m.message(2) { $0.double(1, 1) }
            }
        }
        #expect(error(w)?.code == .invalidLabel)
    }
}
