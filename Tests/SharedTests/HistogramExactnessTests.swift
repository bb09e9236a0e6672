import PropertyBased
import Shared
import Testing

/// docs/SEMANTICS.md S29: histograms with different layouts merge on the bounds they share,
/// so every exposed bucket count is the true number of observations at or below its bound,
/// whatever the layouts, the order and the grouping of the merges.
@Suite("Histogram merge is exact")
struct HistogramExactnessTests {
    /// The bounds pushes choose from; each push takes a random subset, plus `+Inf`.
    static let universe: [Double] = [0.5, 1, 2, 2.5, 5, 10]

    /// One client's histogram: its layout and the raw observations behind it.
    struct Push: Sendable, CustomStringConvertible {
        var layout: [Double]
        /// Halves from 0 to 12.5: some fall exactly on a bound, some beyond every finite
        /// bound, and their sums are exact in binary, so any order of addition agrees.
        var observations: [Double]

        var description: String { "le \(layout) obs \(observations)" }

        /// What a client exposes for these observations: cumulative counts per bound.
        var histogram: HistogramValue {
            HistogramValue(
                buckets: layout.map { bound in
                    Bucket(upperBound: bound, count: Double(observations.filter { $0 <= bound }.count))
                },
                sum: observations.reduce(0, +))
        }

        /// The push body a client would send.
        var body: String {
            var writer = ExpositionWriter(format: .text)
            writer.writeHeader(metadataName: "h", type: .histogram, help: nil)
            writer.writeSeries(name: Array("h".utf8), type: .histogram, key: .empty, value: .histogram(histogram))
            return String(decoding: writer.bytes, as: UTF8.self)
        }
    }

    static let push = zip(Gen.int(in: 0...63), Gen.int(in: 0...25).array(of: 0...12)).map { mask, halves in
        Push(
            layout: universe.indices.filter { mask & (1 << $0) != 0 }.map { universe[$0] } + [.infinity],
            observations: halves.map { Double($0) / 2 })
    }

    /// Merges `parts` as a tree whose shape `splits` chooses: every grouping is reachable.
    static func tree(_ parts: ArraySlice<HistogramValue>, _ splits: [Int]) -> HistogramValue {
        guard parts.count > 1 else { return parts.first! }
        let cut = parts.startIndex + 1 + splits[(parts.startIndex * 7 + parts.count) % splits.count] % (parts.count - 1)
        return tree(parts[..<cut], splits).merged(with: tree(parts[cut...], splits))
    }

    @Test("Every exposed bucket equals the true count of observations at or below its bound, in any order and grouping")
    func exactInAnyOrderAndGrouping() async {
        let shape = Gen.int(in: 0...1000).array(of: 1...8)
        await propertyCheck(count: 400, input: Self.push.array(of: 1...6), shape, shape) { pushes, priorities, splits in
            let all = pushes.flatMap(\.observations)
            let shared = Self.universe.filter { bound in pushes.allSatisfy { $0.layout.contains(bound) } } + [.infinity]
            let order = pushes.indices.sorted {
                (priorities[$0 % priorities.count], $0) < (priorities[$1 % priorities.count], $1)
            }
            let merged = Self.tree(order.map { pushes[$0].histogram }[...], splits)

            #expect(merged.buckets.map(\.upperBound) == shared, "\(pushes)")
            for bucket in merged.buckets {
                #expect(bucket.count == Double(all.filter { $0 <= bucket.upperBound }.count), "le=\(bucket.upperBound) \(pushes)")
            }
            #expect(merged.count == Double(all.count))
            #expect(merged.sum == all.reduce(0, +))

            // Associative and commutative: one push after another, in push order, agrees.
            let sequential = pushes.dropFirst().reduce(pushes[0].histogram) { $0.merged(with: $1.histogram) }
            #expect(sequential == merged, "\(pushes)")

            // And so does the gateway's path: bodies parsed and merged into a group in the shuffled order.
            do {
                let group = try pushAll(order.map { pushes[$0].body })
                #expect(group.families["h"]?.series[.empty]?.value == .histogram(merged), "\(pushes)")
            } catch {
                Issue.record("a client's histogram was refused: \(error)")
            }
        }
    }

    @Test("Merging is associative and commutative for any layouts")
    func laws() async {
        await propertyCheck(count: 300, input: Self.push, Self.push, Self.push) { a, b, c in
            let (x, y, z) = (a.histogram, b.histogram, c.histogram)
            #expect(x.merged(with: y).merged(with: z) == x.merged(with: y.merged(with: z)))
            #expect(x.merged(with: y) == y.merged(with: x))
            // Merging in place through the `aggregate` rule gives the same as the pure merge.
            var value = SeriesValue.histogram(x)
            value.aggregate(.histogram(y))
            #expect(value == .histogram(x.merged(with: y)))
        }
    }

    @Test(
        "Many layouts repeated in one body merge to the shared bounds, in linear time",
        .timeLimit(.minutes(1)))
    func manyLayoutsInOneBody() throws {
        // 20,000 instances of one series, each with a bound of its own: under the union rule
        // the stored layout grew by one bucket per instance and each merge copied it whole
        // (182 s in a debug build).
        let n = 20_000
        var body = "# TYPE h histogram\n"
        body.reserveCapacity(n * 48)
        for i in 0..<n {
            body += "h_bucket{le=\"\(i + 1)\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\n"
        }
        let group = try pushAll([body])
        #expect(
            group.families["h"]?.series[.empty]?.value
                == .histogram(
                    HistogramValue(
                        buckets: [Bucket(upperBound: .infinity, count: Double(2 * n))], sum: Double(3 * n))))
    }

    @Test("A bound of 0 and of -0 are one bound, whichever side comes first")
    func signedZeroBound() {
        let negative = HistogramValue(buckets: [Bucket(upperBound: -0.0, count: 1), Bucket(upperBound: .infinity, count: 2)], sum: 1)
        let positive = HistogramValue(buckets: [Bucket(upperBound: 0, count: 3), Bucket(upperBound: .infinity, count: 4)], sum: 2)
        let merged = negative.merged(with: positive)
        #expect(merged.buckets.map(\.count) == [4, 6])
        #expect(merged.buckets[0].upperBound.sign == .plus)
        #expect(positive.merged(with: negative).buckets[0].upperBound.sign == .plus)
    }
}
