import Shared
import Testing

@testable import GravelExtension

@Suite("Cumulative to delta conversion")
struct CumulativeConverterTests {
    func convert(_ converter: inout CumulativeConverter, _ body: String) throws -> [ParsedFamily] {
        var families = try ExpositionParser.parse(body).families
        converter.convert(&families, group: .empty)
        return families
    }

    @Test("Counters: first push whole, then increases, a drop is a restart")
    func counters() throws {
        var c = CumulativeConverter()
        #expect(try convert(&c, "# TYPE n counter\nn 5\n")[0].series[0].value == .scalar(5))
        #expect(try convert(&c, "# TYPE n counter\nn 8\n")[0].series[0].value == .scalar(3))
        #expect(try convert(&c, "# TYPE n counter\nn 2\n")[0].series[0].value == .scalar(2))
        #expect(try convert(&c, "# TYPE n counter\nn 2\n")[0].series[0].value == .scalar(0))
    }

    @Test("Histograms: per-bucket increases; summaries: sum and count increases")
    func histograms() throws {
        var c = CumulativeConverter()
        _ = try convert(&c, "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n")
        let d = try convert(&c, "# TYPE h histogram\nh_bucket{le=\"1\"} 3\nh_bucket{le=\"+Inf\"} 5\nh_sum 7\nh_count 5\n")
        #expect(
            d[0].series[0].value
                == .histogram(
                    HistogramValue(
                        buckets: [Bucket(upperBound: 1, count: 2), Bucket(upperBound: .infinity, count: 3)], sum: 4)))
        _ = try convert(&c, "# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 10\ns_count 4\n")
        let q = try convert(&c, "# TYPE s summary\ns{quantile=\"0.5\"} 2\ns_sum 12\ns_count 5\n")
        #expect(q[0].series[0].value == .summary(SummaryValue(quantiles: [Quantile(quantile: 0.5, value: 2)], sum: 2, count: 1)))
    }

    @Test("Gauges and replace-mode series pass unchanged")
    func passThrough() throws {
        var c = CumulativeConverter()
        _ = try convert(&c, "# TYPE g gauge\ng 5\n# TYPE n counter\nn{clearmode=\"replace\"} 5\n")
        let f = try convert(&c, "# TYPE g gauge\ng 7\n# TYPE n counter\nn{clearmode=\"replace\"} 9\n")
        #expect(f.first { $0.name == "g" }?.series[0].value == .scalar(7))
        #expect(f.first { $0.name == "n" }?.series[0].value == .scalar(9))
    }
}
