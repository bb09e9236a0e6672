import PropertyBased
import Testing

@testable import Shared

/// A histogram's observations and settings, as a client library would have them.
struct Observed: Sendable, CustomStringConvertible {
    var schema: Int32
    var zeroThreshold: Double
    var values: [Double]

    var histogram: NativeHistogram {
        var h = NativeHistogram(schema: schema, zeroThreshold: zeroThreshold)
        for v in values { h.observe(v) }
        return h
    }

    var description: String { "schema \(schema), zero threshold \(zeroThreshold), \(values)" }

    /// Observations are dyadic rationals of modest size, so every sum is exact in any order
    /// and histograms built in different orders compare equal, sums included.
    static let gen = zip(
        Gen.int(in: -4...8),
        Gen.int(in: 0...4),
        zip(Gen.int(in: -3000...3000), Gen.int(in: -8...8)).array(of: 0...40)
    ).map { schema, threshold, raw in
        Observed(
            schema: Int32(schema),
            zeroThreshold: [0, 0x1p-128, 0.01, 0.3, 1.5][threshold],
            values: raw.map { mantissa, exponent in Double(mantissa) * Double.pow2(exponent) / 64 })
    }
}

extension Double {
    static func pow2(_ e: Int) -> Double { Double(sign: .plus, exponent: e, significand: 1) }
}

@Suite("Native histograms: model and exact merge")
struct NativeHistogramTests {
    @Test("Bucket boundaries: each bound belongs to its bucket, the next value to the next bucket")
    func boundaries() {
        for schema in NativeHistogram.schemas {
            for index: Int32 in -300...300 {
                let bound = NativeHistogram.upperBound(index: index, schema: schema)
                guard bound.isFinite, bound > 0, bound.isNormal else { continue }
                #expect(NativeHistogram.index(of: bound, schema: schema) == index, "schema \(schema) index \(index)")
                #expect(NativeHistogram.index(of: bound.nextUp, schema: schema) == index + 1, "schema \(schema) index \(index)")
            }
        }
        // Schema 0 doubles: (1, 2] is bucket 1, (0.5, 1] bucket 0. Schema 3: 2^(1/8) steps.
        #expect(NativeHistogram.index(of: 1.5, schema: 0) == 1)
        #expect(NativeHistogram.index(of: 1, schema: 0) == 0)
        #expect(NativeHistogram.index(of: 3, schema: 3) == 13)  // 2^(12/8) ≈ 2.83 < 3 ≤ 2^(13/8) ≈ 3.08
        #expect(NativeHistogram.index(of: 100, schema: -2) == 2)  // (16, 256]
    }

    @Test("Reducing the schema maps bucket i to ((i - 1) >> d) + 1 and adds what meets")
    func reduction() {
        let h = NativeHistogram(
            schema: 2, zeroThreshold: 0, count: 10,
            positive: [
                .init(index: -1, count: 1), .init(index: 0, count: 2), .init(index: 1, count: 3), .init(index: 4, count: 1),
                .init(index: 5, count: 2),
            ],
            negative: [.init(index: 3, count: 1)])
        let reduced = h.reduced(toSchema: 0)
        // Schema 2 → 0 joins four buckets: (-3...0) → 0, (1...4) → 1, (5...8) → 2.
        #expect(reduced.positive == [.init(index: 0, count: 3), .init(index: 1, count: 4), .init(index: 2, count: 2)])
        #expect(reduced.negative == [.init(index: 1, count: 1)])
        #expect(reduced.schema == 0)
        #expect(h.reduced(toSchema: 5) == h)
    }

    @Test("A larger zero threshold inside a bucket rises to its upper bound and takes whole buckets")
    func zeroThreshold() {
        // Schema 0: buckets (0.25, 0.5], (0.5, 1], (1, 2].
        let a = NativeHistogram(
            schema: 0, zeroThreshold: 0.1, zeroCount: 1, count: 7,
            positive: [.init(index: -1, count: 1), .init(index: 0, count: 2), .init(index: 1, count: 3)])
        let b = NativeHistogram(schema: 0, zeroThreshold: 0.75, zeroCount: 4, count: 4)
        let merged = a.merged(with: b)
        #expect(merged.zeroThreshold == 1)
        #expect(merged.zeroCount == 1 + 1 + 2 + 4)
        #expect(merged.positive == [.init(index: 1, count: 3)])
        #expect(merged.count == 11)
        // The client default (2^-128) is a boundary at every schema: it never moves.
        #expect(NativeHistogram.mergedZeroThreshold(0x1p-128, 0x1p-128, schema: 3) == 0x1p-128)
        #expect(NativeHistogram.mergedZeroThreshold(0, 0, schema: 3) == 0)
        #expect(NativeHistogram.mergedZeroThreshold(0x1.fffp1023, 1, schema: 0) == 0x1.fffp1023)
    }

    @Test("Merging histograms of observations equals the histogram of all observations at the coarser schema")
    func mergeIsExact() async {
        await propertyCheck(count: 400, input: Observed.gen, Observed.gen) { a, b in
            let merged = a.histogram.merged(with: b.histogram)
            let schema = min(a.schema, b.schema)
            #expect(merged.schema == schema)
            #expect(merged.zeroThreshold == NativeHistogram.mergedZeroThreshold(a.zeroThreshold, b.zeroThreshold, schema: schema))
            #expect(merged.zeroThreshold >= max(a.zeroThreshold, b.zeroThreshold))
            let all = Observed(schema: schema, zeroThreshold: merged.zeroThreshold, values: a.values + b.values)
            #expect(merged == all.histogram)
            #expect(merged.count == Double(a.values.count + b.values.count))
        }
    }

    @Test("The merge is associative and commutative")
    func mergeLaws() async {
        await propertyCheck(count: 300, input: Observed.gen, Observed.gen, Observed.gen) { a, b, c in
            let (x, y, z) = (a.histogram, b.histogram, c.histogram)
            #expect(x.merged(with: y).merged(with: z) == x.merged(with: y.merged(with: z)))
            #expect(x.merged(with: y) == y.merged(with: x))
        }
    }

    @Test("The increase of a cumulative histogram is the histogram of what was observed since, also after a resolution drop")
    func increase() async {
        await propertyCheck(count: 300, input: Observed.gen, Observed.gen, Gen.int(in: 0...3)) { a, b, drop in
            let earlier = a.histogram
            let later = Observed(schema: max(-4, a.schema - Int32(drop)), zeroThreshold: a.zeroThreshold, values: a.values + b.values)
            let since = Observed(schema: later.schema, zeroThreshold: a.zeroThreshold, values: b.values)
            #expect(later.histogram.increase(since: earlier) == since.histogram)
            if !a.values.isEmpty {
                // A restarted client (fewer observations than before) is no increase.
                #expect(Observed(schema: a.schema, zeroThreshold: a.zeroThreshold, values: []).histogram.increase(since: earlier) == nil)
            }
        }
    }

    @Test("Series values: native parts add, classic buckets stay only while every push had them")
    func seriesValues() {
        let classic = HistogramValue(buckets: [Bucket(upperBound: 1, count: 1), Bucket(upperBound: .infinity, count: 2)], sum: 3)
        let a = Observed(schema: 3, zeroThreshold: 0x1p-128, values: [0.5, 2.5]).histogram
        let b = Observed(schema: 1, zeroThreshold: 0x1p-128, values: [0.5, 2.5]).histogram
        var value = SeriesValue.nativeHistogram(a, classic: classic)
        value.aggregate(.nativeHistogram(a, classic: classic))
        #expect(value == .nativeHistogram(a.merged(with: a), classic: classic.merged(with: classic)))
        value.aggregate(.nativeHistogram(b, classic: nil))
        #expect(value == .nativeHistogram(a.merged(with: a).merged(with: b), classic: nil))
        var mixed = SeriesValue.histogram(classic)
        mixed.aggregate(.nativeHistogram(a, classic: classic))
        #expect(mixed == .histogram(classic.merged(with: classic)))
    }
}
