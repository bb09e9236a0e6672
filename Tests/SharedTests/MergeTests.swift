import PropertyBased
import Shared
import Testing

/// Bodies that several rows of the merge table push.
private enum Bodies {
    static let workedExampleOne = "# TYPE value_total counter\nvalue_total 1\n# TYPE value2 gauge\nvalue2 1\n"
    static let workedExampleTwo = """
        # TYPE value_total counter
        value_total 1
        # TYPE value2 gauge
        value2{clearmode="aggregate"} 1
        # TYPE version gauge
        version{version="0.0.1",clearmode="family"} 1

        """
    static let summaryOne = "# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 10\ns_count 2\n"
    static let summaryTwo = "# TYPE s summary\ns{quantile=\"0.5\"} 7\ns_sum 5\ns_count 1\n"
    static let summaryReplacing =
        "# TYPE s summary\ns{quantile=\"0.5\",clearmode=\"replace\"} 7\ns_sum{clearmode=\"replace\"} 5\ns_count{clearmode=\"replace\"} 1\n"
    static let quantilesOnly = "# TYPE s summary\ns{quantile=\"0.5\"} 1\n"
    static let fullSummary = "# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 3\ns_count 1\n"
    static let histogram = "# TYPE h histogram\n"
}

@Suite("clearmode merge rules")
struct MergeTests {
    /// Bodies pushed to one group, one after another, and the group's exposition after them.
    struct MergeCase: Sendable, CustomTestStringConvertible {
        let testDescription: String
        let bodies: [String]
        let expected: String
    }

    @Test(
        "Pushes to one group merge to the expected exposition",
        arguments: [
            MergeCase(
                testDescription: "worked example 1: counters add, gauges replace",
                bodies: Array(repeating: Bodies.workedExampleOne, count: 3),
                expected: "# TYPE value2 gauge\nvalue2 1\n# TYPE value_total counter\nvalue_total 3\n"),
            MergeCase(
                testDescription: "worked example 2: aggregate gauge, replaced family",
                bodies: [
                    Bodies.workedExampleTwo,
                    Bodies.workedExampleTwo.replacing("value_total 1", with: "value_total 3").replacing("0.0.1", with: "0.0.2"),
                ],
                expected: """
                    # TYPE value2 gauge
                    value2 2
                    # TYPE value_total counter
                    value_total 4
                    # TYPE version gauge
                    version{version="0.0.2"} 1

                    """),
            MergeCase(
                testDescription: "different label names in one family keep their own names (reported bug)",
                bodies: ["requests_num_total{LAMBDA_NAME=\"test_function\"} 1\n", "requests_num_total{job=\"test\"} 1\n"],
                expected:
                    "# TYPE requests_num_total untyped\nrequests_num_total{LAMBDA_NAME=\"test_function\"} 1\nrequests_num_total{job=\"test\"} 1\n"
            ),
            MergeCase(
                testDescription: "a gauge family keeps series with different label values (reported bug)",
                bodies: ["# TYPE g gauge\ng{label=\"value1\"} 1\n", "# TYPE g gauge\ng{label=\"value2\"} 2\n"],
                expected: "# TYPE g gauge\ng{label=\"value1\"} 1\ng{label=\"value2\"} 2\n"),
            MergeCase(
                testDescription: "histograms with different layouts merge on the bounds both share (docs/SEMANTICS.md S29)",
                bodies: [
                    Bodies.histogram + "h_bucket{le=\"1\"} 1\nh_bucket{le=\"5\"} 3\nh_bucket{le=\"+Inf\"} 4\nh_sum 10\nh_count 4\n",
                    Bodies.histogram
                        + "h_bucket{le=\"2\"} 2\nh_bucket{le=\"5\"} 2\nh_bucket{le=\"10\"} 5\nh_bucket{le=\"+Inf\"} 6\nh_sum 20\nh_count 6\n",
                ],
                expected: Bodies.histogram + "h_bucket{le=\"5\"} 5\nh_bucket{le=\"+Inf\"} 10\nh_sum 30\nh_count 10\n"),
            MergeCase(
                testDescription: "the example of docs/SEMANTICS.md S29",
                bodies: [
                    Bodies.histogram + "h_bucket{le=\"1\"} 5\nh_bucket{le=\"2\"} 6\nh_bucket{le=\"+Inf\"} 10\nh_sum 1\n",
                    Bodies.histogram + "h_bucket{le=\"2\"} 7\nh_bucket{le=\"5\"} 9\nh_bucket{le=\"+Inf\"} 10\nh_sum 2\n",
                ],
                expected: Bodies.histogram + "h_bucket{le=\"2\"} 13\nh_bucket{le=\"+Inf\"} 20\nh_sum 3\nh_count 20\n"),
            // The union rule exposed le="2" = 12 here, where the truth lies anywhere from 12 to 17.
            MergeCase(
                testDescription: "no bound only one side has",
                bodies: [
                    Bodies.histogram + "h_bucket{le=\"1\"} 5\nh_bucket{le=\"+Inf\"} 10\nh_sum 1\n",
                    Bodies.histogram + "h_bucket{le=\"2\"} 7\nh_bucket{le=\"+Inf\"} 10\nh_sum 2\n",
                ],
                expected: Bodies.histogram + "h_bucket{le=\"+Inf\"} 20\nh_sum 3\nh_count 20\n"),
            MergeCase(
                testDescription: "a histogram without _sum makes the merged _sum unknown, not the other side's",
                bodies: [
                    Bodies.histogram + "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 7\n",
                    Bodies.histogram + "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\n",
                ],
                expected: Bodies.histogram + "h_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 3\nh_count 3\n"),
            MergeCase(
                testDescription: "a summary pushed once keeps its quantiles (docs/SEMANTICS.md S30)",
                bodies: ["# TYPE s summary\ns{quantile=\"0.5\"} 1\ns{quantile=\"0.9\"} 4\ns_sum 10\ns_count 2\n"],
                expected: "# TYPE s summary\ns{quantile=\"0.5\"} 1\ns{quantile=\"0.9\"} 4\ns_sum 10\ns_count 2\n"),
            MergeCase(
                testDescription: "aggregated summaries add _sum and _count and drop the quantiles (docs/SEMANTICS.md S30)",
                bodies: [Bodies.summaryOne, Bodies.summaryTwo],
                expected: "# TYPE s summary\ns_sum 15\ns_count 3\n"),
            MergeCase(
                testDescription: "a third aggregate push adds on, the quantiles stay dropped",
                bodies: [Bodies.summaryOne, Bodies.summaryTwo, Bodies.summaryOne],
                expected: "# TYPE s summary\ns_sum 25\ns_count 5\n"),
            MergeCase(
                testDescription: "two summaries in one body aggregate as two pushes do (docs/SEMANTICS.md S10)",
                bodies: [Bodies.summaryOne + "s{quantile=\"0.5\"} 7\ns_sum 5\ns_count 1\n"],
                expected: "# TYPE s summary\ns_sum 15\ns_count 3\n"),
            MergeCase(
                testDescription: "replaced summaries keep the pushed quantiles",
                bodies: [Bodies.summaryOne, Bodies.summaryReplacing],
                expected: "# TYPE s summary\ns{quantile=\"0.5\"} 7\ns_sum 5\ns_count 1\n"),
            MergeCase(
                testDescription: "an aggregate push after a replaced summary drops the quantiles",
                bodies: [Bodies.summaryOne, Bodies.summaryReplacing, Bodies.summaryOne],
                expected: "# TYPE s summary\ns_sum 15\ns_count 3\n"),
            MergeCase(
                testDescription: "a summary of quantiles only, pushed once, keeps them",
                bodies: [Bodies.quantilesOnly],
                expected: "# TYPE s summary\ns{quantile=\"0.5\"} 1\n"),
            // Nothing counted, but the quantiles are gone: the _count line carries that downstream.
            MergeCase(
                testDescription: "aggregated summaries of quantiles only show _count 0",
                bodies: [Bodies.quantilesOnly, Bodies.quantilesOnly],
                expected: "# TYPE s summary\ns_count 0\n"),
            MergeCase(
                testDescription: "aggregated full summaries show _sum and _count",
                bodies: [Bodies.fullSummary, Bodies.fullSummary],
                expected: "# TYPE s summary\ns_sum 6\ns_count 2\n"),
            MergeCase(
                testDescription: "a _sum only one side had is unknown",
                bodies: [Bodies.quantilesOnly, Bodies.fullSummary],
                expected: "# TYPE s summary\ns_count 1\n"),
            MergeCase(
                testDescription: "a summary of _count only adds to the _count, the _sum is unknown",
                bodies: ["# TYPE s summary\ns_count 4\n", Bodies.fullSummary],
                expected: "# TYPE s summary\ns_count 5\n"),
            MergeCase(
                testDescription: "repeated counter lines in one body add in order",
                bodies: ["# TYPE c counter\nc 1\nc 2\n"],
                expected: "# TYPE c counter\nc 3\n"),
            MergeCase(
                testDescription: "repeated gauge lines in one body apply in order",
                bodies: ["# TYPE g gauge\ng 1\ng 5\n"],
                expected: "# TYPE g gauge\ng 5\n"),
        ])
    func merge(_ mergeCase: MergeCase) throws {
        #expect(render(try pushAll(mergeCase.bodies)) == mergeCase.expected)
    }

    @Test("Aggregated summaries drop the quantiles from the stored value and from OpenMetrics too")
    func summaryValue() throws {
        let group = try pushAll([Bodies.summaryOne, Bodies.summaryTwo])
        #expect(group.families["s"]?.series[.empty]?.value == .summary(SummaryValue(quantiles: [], sum: 15, count: 3)))
        #expect(render(group, format: .openMetrics) == "# TYPE s summary\ns_sum 15\ns_count 3\n# EOF\n")
    }

    @Test("Replace after aggregate and aggregate after replace")
    func modeSequences() throws {
        let group = try pushAll(["c 5\n", "c{clearmode=\"replace\"} 2\n", "c 1\n"])
        #expect(group.families["c"]?.series[.empty]?.value == .scalar(3))
        #expect(group.families["c"]?.series[.empty]?.mode == .replace)
    }

    @Test("Histogram layouts repeated in one body: Go order (sum, count) and Python order (count, sum)")
    func repeatedHistogramOrders() throws {
        let go = "h_bucket{le=\"1\"} 5\nh_bucket{le=\"+Inf\"} 7\nh_sum 15\nh_count 7\n"
        let python = "h_bucket{le=\"0.5\"} 1\nh_bucket{le=\"2\"} 2\nh_bucket{le=\"+Inf\"} 2\nh_count 2\nh_sum 1\n"
        let header = Bodies.histogram
        let together = try pushAll([header + go + python + go])
        let apart = try pushAll([header + go, header + python, header + go])
        #expect(render(together) == render(apart))
    }

    // MARK: - Properties

    /// Turns numbers into push lines over a small set of series, so that bodies share series.
    static func lines(_ seeds: [Int]) -> [String] {
        seeds.map { seed in
            let v = seed % 50
            switch (seed / 50) % 10 {
            case 0: return "c_total{a=\"x\"} \(v)"
            case 1: return "c_total{a=\"y\"} \(v)"
            case 2: return "g{a=\"x\"} \(v)"
            case 3: return "g{a=\"x\",clearmode=\"aggregate\"} \(v)"
            case 4:
                return "h_bucket{le=\"1\"} \(v)\nh_bucket{le=\"+Inf\"} \(v + 2)\nh_sum \(v * 3)\nh_count \(v + 2)"
            case 5:
                // Shares le="1" with case 4 (S29 keeps it) but not 0.5 or 2.
                return
                    "h_bucket{le=\"0.5\"} \(v)\nh_bucket{le=\"1\"} \(v)\nh_bucket{le=\"2\"} \(v + 1)\nh_bucket{le=\"+Inf\"} \(v + 1)\nh_sum \(v)\nh_count \(v + 1)"
            case 6: return "s{quantile=\"0.9\"} \(v)\ns_sum \(v)\ns_count 1"
            case 7:
                // Quantiles only. The same quantile as case 6, so that in one body it
                // starts a new instance (a lower one would continue the previous instance).
                return "s{quantile=\"0.9\"} \(v)"
            case 8:
                // No _sum: the merged _sum is unknown from here on.
                return "h_bucket{le=\"1\"} \(v)\nh_bucket{le=\"+Inf\"} \(v + 1)\nh_count \(v + 1)"
            default:
                return
                    "h_bucket{le=\"2\",clearmode=\"replace\"} \(v)\nh_bucket{le=\"+Inf\",clearmode=\"replace\"} \(v + 1)\nh_sum{clearmode=\"replace\"} \(v)"
            }
        }
    }

    static let header = "# TYPE c_total counter\n# TYPE g gauge\n# TYPE h histogram\n# TYPE s summary\n"

    static func body(_ lines: [String]) -> String {
        header + lines.map { $0 + "\n" }.joined()
    }

    @Test("Pushing A then B equals pushing A+B (aggregate and replace rules)")
    func concatenation() async {
        let seeds = Gen.int(in: 0...499).array(of: 0...12)
        await propertyCheck(count: 300, input: seeds, seeds) { a, b in
            let la = Self.lines(a), lb = Self.lines(b)
            do {
                let sequential = try pushAll([Self.body(la), Self.body(lb)])
                let concatenated = try pushAll([Self.body(la + lb)])
                #expect(render(sequential) == render(concatenated))
            } catch {
                Issue.record("a valid body was refused: \(error)")
            }
        }
    }

    @Test("Histogram merge is associative and commutative, stays cumulative, and keeps the total count")
    func histogramMergeLaws() async {
        let layouts: [[Double]] = [[1, .infinity], [0.5, 2, .infinity], [1, 2, 5, .infinity], [.infinity]]
        let histogram = zip(Gen.int(in: 0...3), Gen.int(in: 0...20).array(of: 4)).map { layout, increments in
            var running = 0.0
            let buckets = layouts[layout].enumerated().map { i, bound in
                running += Double(increments[i % increments.count])
                return Bucket(upperBound: bound, count: running)
            }
            return HistogramValue(buckets: buckets, sum: running)
        }
        await propertyCheck(count: 300, input: histogram, histogram, histogram) { a, b, c in
            let left = a.merged(with: b).merged(with: c)
            let right = a.merged(with: b.merged(with: c))
            #expect(left == right)
            #expect(a.merged(with: b) == b.merged(with: a))
            #expect(left.count == a.count + b.count + c.count)
            #expect(zip(left.buckets, left.buckets.dropFirst()).allSatisfy { $0.count <= $1.count && $0.upperBound < $1.upperBound })
            #expect(left.buckets.last?.upperBound == .infinity)
        }
    }
}

@Suite("Pre-aggregated batches")
struct BatchRenderingTests {
    /// What the extension relies on (docs/SEMANTICS.md S51): batches rendered with clearmode
    /// labels and pushed one after another give the same state as the original pushes sent
    /// one by one, whichever pushes each batch holds.
    @Test("Rendering with clearmode labels replays the same merge downstream, batch after batch")
    func replay() async {
        let seeds = Gen.int(in: 0...499).array(of: 0...10)
        let start =
            MergeTests.header + "c_total{a=\"x\"} 100\ng{a=\"x\"} 7\n"
            + "h_bucket{le=\"0.5\"} 1\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 3\nh_sum 4\nh_count 3\n"
            + "s{quantile=\"0.9\"} 2\ns_sum 5\ns_count 2\n"
        await propertyCheck(count: 300, input: seeds.array(of: 1...6), Gen.int(in: 1...3)) { pushes, perBatch in
            do {
                let bodies = pushes.map { MergeTests.body(MergeTests.lines($0)) }
                var gateway = try pushAll([start])
                for first in stride(from: 0, to: bodies.count, by: perBatch) {
                    let batch = try Self.clearModeBody(Array(bodies[first..<min(first + perBatch, bodies.count)]))
                    for family in try ExpositionParser.parse(batch).families { gateway.apply(family, nowMs: 1_000_000) }
                }
                let direct = try pushAll([start] + bodies)
                #expect(render(direct) == render(gateway), "\(bodies)")
            } catch {
                Issue.record("a valid body was refused: \(error)")
            }
        }
    }

    /// A batch's bodies rendered with clearmode labels, as the extension flushes them.
    static func clearModeBody(_ bodies: [String]) throws -> String {
        var batch = try pushAll(bodies)
        var writer = ExpositionWriter(format: .text)
        batch.render(into: &writer, clearModes: true, nowMs: 1_000_000)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    /// A group the gateway holds, a batch of pushes to it, and the group after the batch.
    struct StoredCase: Sendable, CustomTestStringConvertible {
        let testDescription: String
        let stored: String
        let batched: [String]
        let expected: String
    }

    @Test(
        "A batch replays onto what the gateway holds as its pushes sent one by one would",
        arguments: [
            StoredCase(
                testDescription: "summaries without _sum or _count still drop the gateway's quantiles",
                stored: "# TYPE s summary\ns{quantile=\"0.5\"} 9\ns_sum 5\ns_count 2\n",
                batched: ["# TYPE s summary\ns{quantile=\"0.5\"} 1\n", "# TYPE s summary\ns{quantile=\"0.5\"} 2\n"],
                expected: "# TYPE s summary\ns_count 2\n"),
            StoredCase(
                testDescription: "a family push replaces the family",
                stored: "version{version=\"1\",clearmode=\"family\"} 1\n",
                batched: ["version{version=\"2\",clearmode=\"family\"} 1\n", "version{version=\"3\",clearmode=\"family\"} 1\n"],
                expected: "# TYPE version untyped\nversion{version=\"3\"} 1\n"),
        ])
    func storedReplay(_ storedCase: StoredCase) throws {
        let direct = try pushAll([storedCase.stored] + storedCase.batched)
        let viaBatch = try pushAll([storedCase.stored, try Self.clearModeBody(storedCase.batched)])
        #expect(render(viaBatch) == render(direct))
        #expect(render(viaBatch) == storedCase.expected)
    }
}
