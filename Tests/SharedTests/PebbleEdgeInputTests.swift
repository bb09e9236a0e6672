import Shared
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// No pushed value, timestamp or pebble spec may trap the gateway (issue 10, "Traps"):
/// every case here trapped or answered wrong before.
@Suite("Pebbles on hostile input")
struct PebbleEdgeInputTests {
    static let extremes: [Double] = [
        0, -0.0, .leastNonzeroMagnitude, -.leastNonzeroMagnitude, .leastNormalMagnitude, -.leastNormalMagnitude,
        .greatestFiniteMagnitude, -.greatestFiniteMagnitude, .infinity, -.infinity, 1e-300, 1e300, -1, 1,
    ]

    @Test("Sketch counts go past 32 bits (merging a window's buckets trapped at 4.3 billion)")
    func sketchCountsBeyond32Bits() throws {
        var sketch = LogSketch()
        sketch.add(3)
        sketch.add(-3)
        sketch.add(0)
        for _ in 0..<40 { sketch.merge(sketch) }
        #expect(sketch.count == 3 << 40)
        let median = try #require(sketch.quantile(0.5))
        #expect(median == 0)
        let top = try #require(sketch.quantile(0.9))
        #expect(abs(top - 3) / 3 <= 0.01)
    }

    @Test("Sketch counts saturate instead of trapping")
    func sketchSaturates() throws {
        var sketch = LogSketch()
        sketch.add(3)
        for _ in 0..<70 { sketch.merge(sketch) }
        #expect(sketch.count == Int.max)
        let median = try #require(sketch.quantile(0.5))
        #expect(abs(median - 3) / 3 <= 0.01)
    }

    @Test("Sketch bins for zero, subnormal, huge, infinite and negative values")
    func sketchExtremeValues() throws {
        var sketch = LogSketch()
        for v in Self.extremes { sketch.add(v) }
        sketch.add(.nan)
        #expect(sketch.count == Self.extremes.count)  // NaN is left out (docs/SEMANTICS.md S36).
        let sorted = Self.extremes.sorted()
        for (r, exact) in sorted.enumerated() {
            let q = (Double(r) + 0.5) / Double(sorted.count)
            let estimate = try #require(sketch.quantile(q))
            if abs(exact) < .leastNormalMagnitude {
                #expect(estimate == 0, "rank \(r + 1): \(estimate) for \(exact)")
            } else if exact.isInfinite {
                #expect(estimate == exact, "rank \(r + 1)")
            } else {
                #expect(abs(estimate - exact) / abs(exact) <= 0.01, "rank \(r + 1): \(estimate) for \(exact)")
            }
        }
    }

    /// Once full, the sketch sorted its 2048 keys for every new bin: this took 218 s in a
    /// debug build. Collapsing in batches makes it a fraction of a second.
    @Test(
        "A distribution wider than the bins keeps its high quantiles exact and its bins bounded",
        .timeLimit(.minutes(1)))
    func sketchWiderThanBins() throws {
        var sketch = LogSketch()
        var values: [Double] = []
        // 70,000 values, each in a bin of its own (steps of 2% in the logarithm), over 10⁶⁰⁸.
        for i in -35_000..<35_000 {
            let v = exp(Double(i) * 0.02)
            values.append(v)
            sketch.add(v)
        }
        #expect(sketch.binCount <= LogSketch.maxBins)
        values.sort()
        for q in [0.99, 0.999] {
            let exact = values[Int((q * Double(values.count)).rounded(.up)) - 1]
            let estimate = try #require(sketch.quantile(q))
            #expect(abs(estimate - exact) / exact <= 0.01, "p\(q): \(estimate) vs \(exact)")
        }
    }

    @Test("Every aggregation over extreme values, exact and sketched, answers without trapping")
    func windowExtremeValues() {
        let aggregations: [PebbleSpec.Aggregation] = [.sum, .mean, .min, .max, .count, .last, .quantile(0.5), .quantile(0.999)]
        for aggregation in aggregations {
            var window = PebbleWindow(spec: PebbleSpec(aggregation: aggregation, windowSeconds: 60))
            var n = 0
            // Past the exact limit of 10,000, so quantiles go through the sketch too.
            for round in 0..<800 {
                for v in Self.extremes + [.nan] {
                    window.observe(v, at: 1_000_000 + Int64(round), nowMs: 1_000_000 + Int64(round))
                    n += 1
                }
            }
            let value = window.value(atMs: 1_001_000)
            switch aggregation {
            case .min: #expect(value == -.infinity)
            case .max: #expect(value == .infinity)
            case .count: #expect(value == Double(n))
            case .quantile: #expect(value != nil, "\(aggregation)")
            default: #expect(value != nil, "\(aggregation)")
            }
        }
    }

    @Test("Timestamps and clocks at the ends of Int64", arguments: [1, 60, 999_999_999 * 3600])
    func extremeTimes(windowSeconds: Int) {
        let spec = PebbleSpec(aggregation: .max, windowSeconds: windowSeconds)
        var window = PebbleWindow(spec: spec)
        let ancient = window.observe(1, at: .min, nowMs: 1_000_000)
        #expect(!ancient)
        let future = window.observe(2, at: .max, nowMs: 1_000_000)
        #expect(future)  // The future is clamped to now.
        #expect(window.value(atMs: 1_000_000) == 2)
        _ = window.value(atMs: .max)
        _ = window.value(atMs: .min)
        for now in [Int64.max, .min, 0, -1] {
            var w = PebbleWindow(spec: spec)
            let future = w.observe(3, at: .max, nowMs: now)
            let present = w.observe(4, at: now, nowMs: now)
            #expect(future && present)
            w.observe(5, at: .min, nowMs: now)
            #expect(w.value(atMs: now) != nil)
        }
    }

    @Test("Pushed timestamps at the ends of Int64 reach the window safely")
    func extremePushedTimestamps() throws {
        var group = GroupState()
        let push = try ExpositionParser.parse(
            "# TYPE g gauge\ng{clearmode=\"max1s\"} 1 -9223372036854775807\ng{clearmode=\"max1s\"} 2 9223372036854775807\n")
        let stale = group.apply(push.families[0], nowMs: 1_000_000)
        #expect(stale == 1)
        #expect(render(group) == "# TYPE g gauge\ng 2\n")
    }

    @Test(
        "Specs the spelling cannot give (any quantile, any window) answer without trapping",
        arguments: [Double.nan, .infinity, -.infinity, -1, 0, 1, 2, 1e300])
    func specsOutsideTheSpelling(q: Double) {
        for windowSeconds in [0, -5, Int.max, Int.min] {
            let spec = PebbleSpec(aggregation: .quantile(q), windowSeconds: windowSeconds)
            var exact = PebbleWindow(spec: spec)
            for v in [2.0, 1, 3] { exact.observe(v, at: 1_000_000, nowMs: 1_000_000) }
            // Below (0, 1) and NaN answer the minimum, above it the maximum.
            #expect(exact.value(atMs: 1_000_000) == (q >= 1 ? 3 : 1), "q \(q) window \(windowSeconds)")
            var sketched = PebbleWindow(spec: spec)
            for i in 0..<10_001 { sketched.observe(Double(i + 1), at: 1_000_000, nowMs: 1_000_000) }
            let answer = sketched.value(atMs: 1_000_000) ?? 0
            let expected = q >= 1 ? 10_001.0 : 1.0
            #expect(abs(answer - expected) / expected <= 0.01, "q \(q) window \(windowSeconds): \(answer)")
            _ = spec.description
        }
        #expect(LogSketch().quantile(q) == nil)
    }

    @Test("Every spellable quantile clearmode survives the extension's replay spelling")
    func quantileSpellingsRoundTrip() throws {
        for width in 2...4 {
            var limit = 1
            for _ in 0..<width { limit *= 10 }
            for n in 1..<limit {
                let digits = String(repeating: "0", count: width - String(n).count) + String(n)
                let mode = try #require(ClearMode("p\(digits)_5m"))
                #expect(ClearMode(mode.description) == mode, "p\(digits)_5m spelled \(mode.description)")
            }
        }
        // p05 (0.05) was spelled p50 (0.5), and p9999 (0.9999) p10 (0.1).
        #expect(ClearMode("p05_5m")?.description == "p05_5m")
        #expect(ClearMode("p9999_1h")?.description == "p9999_1h")
        #expect(ClearMode("p500_5m")?.description == "p50_5m")
    }
}
