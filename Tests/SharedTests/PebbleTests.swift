import PropertyBased
import Shared
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite("Pebbles: windowed gauges")
struct PebbleTests {
    @Test(
        "Spellings of pebble clearmodes",
        arguments: [
            ("mean5m", PebbleSpec.Aggregation.mean, 300), ("avg30s", .mean, 30), ("max1h", .max, 3600),
            ("sum10s", .sum, 10), ("min2m", .min, 120), ("count1m", .count, 60), ("last15s", .last, 15),
            ("p99_5m", .quantile(0.99), 300), ("p50-1h", .quantile(0.5), 3600), ("p999_30s", .quantile(0.999), 30),
            ("p95_2m", .quantile(0.95), 120), ("mean_5m", .mean, 300),
        ])
    func spellings(text: String, aggregation: PebbleSpec.Aggregation, seconds: Int) throws {
        let mode = try #require(ClearMode(text))
        #expect(mode == .pebble(PebbleSpec(aggregation: aggregation, windowSeconds: seconds)))
    }

    @Test("Invalid pebble spellings", arguments: ["mean", "mean5", "mean5d", "p995m", "p9_5m", "median5m", "mean0m", "5m", "p99_"])
    func invalid(text: String) {
        #expect(ClearMode(text) == nil)
    }

    @Test("The reported case: mean5m pushed once scrapes 22, then 16, and keeps the job label")
    func reportedCase() throws {
        let grouping = try GroupingKey(path: "/metrics/job/testjob")
        var group = try pushAll(["test_value{clearmode=\"mean5m\"} 22\n"], grouping: grouping, nowMs: 1_000_000)
        #expect(render(group) == "# TYPE test_value gauge\ntest_value{job=\"testjob\"} 22\n")
        let second = try ExpositionParser.parse("test_value{clearmode=\"mean5m\"} 10\n", grouping: grouping)
        group.apply(second.families[0], nowMs: 1_010_000)
        var writer = ExpositionWriter(format: .text)
        group.render(into: &writer, nowMs: 1_020_000)
        #expect(String(decoding: writer.bytes, as: UTF8.self) == "# TYPE test_value gauge\ntest_value{job=\"testjob\"} 16\n")
        // Six minutes later both observations have left the window: nothing is shown.
        var later = ExpositionWriter(format: .text)
        group.render(into: &later, nowMs: 1_010_000 + 6 * 60_000)
        #expect(later.bytes.isEmpty)
    }

    @Test("Pebble series mix with other series and label names in one family and group")
    func mixing() throws {
        var group = try pushAll(
            [
                "# TYPE temp gauge\ntemp{room=\"a\",clearmode=\"max1m\"} 20\ntemp{room=\"b\"} 5\ntemp{sensor=\"x\",clearmode=\"min1m\"} 3\n",
                "# TYPE temp gauge\ntemp{room=\"a\",clearmode=\"max1m\"} 25\ntemp{room=\"b\"} 6\ntemp{sensor=\"x\",clearmode=\"min1m\"} 1\n",
            ], nowMs: 500_000)
        var writer = ExpositionWriter(format: .text)
        group.render(into: &writer, nowMs: 510_000)
        #expect(
            String(decoding: writer.bytes, as: UTF8.self) == """
                # TYPE temp gauge
                temp{room="a"} 25
                temp{room="b"} 6
                temp{sensor="x"} 1

                """)
    }

    @Test("Pebbles on counters, histograms and summaries are refused with advice")
    func wrongType() {
        for type in ["counter", "histogram", "summary"] {
            let name = type == "counter" ? "x_total" : "x"
            let sample = type == "histogram" ? "x_bucket{le=\"+Inf\",clearmode=\"mean5m\"} 1" : "\(name){clearmode=\"mean5m\"} 1"
            let error = parseError("# TYPE \(name) \(type)\n\(sample)\n")
            #expect(error?.code == .invalidClearMode)
            #expect(error?.message.contains("# TYPE \(name) gauge") == true, "\(String(describing: error))")
        }
    }

    @Test("Timestamps: observations use them, future ones are clamped, too old ones are counted and ignored")
    func timestamps() throws {
        let now: Int64 = 10_000_000
        var group = GroupState()
        let push = try ExpositionParser.parse(
            """
            v{clearmode="last1m"} 1 \(now - 30_000)
            v{clearmode="last1m"} 2 \(now - 50_000)
            v{clearmode="last1m"} 3 \(now - 120_000)
            w{clearmode="max1m"} 7 \(now + 999_000)

            """)
        var stale = 0
        for family in push.families { stale += group.apply(family, nowMs: now) }
        #expect(stale == 1)
        guard case .window(let v)? = group.families["v"]?.series[.empty]?.value else {
            Issue.record("no window")
            return
        }
        #expect(v.value(atMs: now) == 1)  // The latest timestamp wins, not the latest line.
        guard case .window(let w)? = group.families["w"]?.series[.empty]?.value else {
            Issue.record("no window")
            return
        }
        #expect(w.value(atMs: now) == 7)
        #expect(w.value(atMs: now + 61_000) == nil)  // Clamped to now, so it expires a window after now.
    }

    /// The documented window: buckets of windowMs/N, the last N of them (the current one included).
    static func reference(
        _ spec: PebbleSpec, _ observations: [(value: Double, at: Int64, arrival: Int64)], queryMs: Int64
    ) -> Double? {
        let window = PebbleWindow(spec: spec)
        let b = window.bucketDurationMs, n = window.bucketCountInWindow
        let live = observations.enumerated().filter { _, o in
            let t = min(o.at, o.arrival)
            return t / b > o.arrival / b - n && t / b > queryMs / b - n && t <= queryMs
        }
        guard !live.isEmpty else { return nil }
        let values = live.map(\.element.value)
        switch spec.aggregation {
        case .sum: return values.reduce(0, +)
        case .count: return Double(values.count)
        case .mean: return values.reduce(0, +) / Double(values.count)
        case .min: return values.min()
        case .max: return values.max()
        case .last:
            return live.max { a, b in
                let ta = min(a.element.at, a.element.arrival), tb = min(b.element.at, b.element.arrival)
                return ta != tb ? ta < tb : a.offset < b.offset
            }!.element.value
        case .quantile(let q):
            let sorted = values.sorted()
            return sorted[max(1, Int((q * Double(sorted.count)).rounded(.up))) - 1]
        }
    }

    @Test("Every aggregation equals a reference computed from the raw observations, with expiry")
    func aggregationsMatchReference() async {
        let aggregations: [PebbleSpec.Aggregation] = [
            .sum, .mean, .min, .max, .count, .last, .quantile(0.5), .quantile(0.9), .quantile(0.99),
        ]
        let step = zip(Gen.int(in: 0...20_000), Gen.int(in: -90_000...5_000), Gen.int(in: -50...200))
        await propertyCheck(count: 150, input: Gen.int(in: 0...8), Gen.int(in: 0...2), step.array(of: 1...60)) { agg, windowChoice, steps in
            let spec = PebbleSpec(aggregation: aggregations[agg], windowSeconds: [7, 60, 300][windowChoice])
            var window = PebbleWindow(spec: spec)
            var now: Int64 = 1_700_000_000_000
            var log: [(value: Double, at: Int64, arrival: Int64)] = []
            for (advance, offset, value) in steps {
                now += Int64(advance)
                let at = now + Int64(offset)
                window.observe(Double(value), at: at, nowMs: now)
                log.append((Double(value), at, now))
                #expect(window.value(atMs: now) == Self.reference(spec, log, queryMs: now), "\(spec) at \(now)")
            }
            // Step past the end of the window bucket by bucket: values follow the reference down to nothing.
            let windowMs = Int64(spec.windowSeconds) * 1000
            var probe = now
            while probe <= now + windowMs + window.bucketDurationMs {
                #expect(window.value(atMs: probe) == Self.reference(spec, log, queryMs: probe), "\(spec) at \(probe)")
                probe += window.bucketDurationMs
            }
            #expect(window.value(atMs: now + windowMs + window.bucketDurationMs) == nil)
        }
    }

    /// A deterministic generator for reproducible distributions.
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test("Quantiles over 1,000,000 skewed observations stay within 1%", arguments: ["lognormal", "pareto", "exponential"])
    func quantileAccuracy(distribution: String) {
        var rng = SplitMix(state: 42)
        func uniform() -> Double { Double(rng.next() >> 11) / Double(1 << 53) + 1e-300 }
        let sample: () -> Double = {
            switch distribution {
            case "lognormal":
                let z = sqrt(-2 * log(uniform())) * cos(2 * .pi * uniform())
                return exp(3 + 1.5 * z)
            case "pareto": return 0.001 / pow(uniform(), 1 / 1.16)
            default: return -log(uniform()) * 0.25
            }
        }
        let start: Int64 = 1_700_000_000_000
        var windows = [0.5, 0.9, 0.99, 0.999].map { PebbleWindow(spec: PebbleSpec(aggregation: .quantile($0), windowSeconds: 3600)) }
        var values: [Double] = []
        values.reserveCapacity(1_000_000)
        for i in 0..<1_000_000 {
            let v = sample()
            values.append(v)
            let now = start + Int64(i / 1000)  // A thousand observations a millisecond, all within the hour.
            for w in windows.indices { windows[w].observe(v, at: now, nowMs: now) }
        }
        values.sort()
        for (w, q) in [0.5, 0.9, 0.99, 0.999].enumerated() {
            let exact = values[Int((q * Double(values.count)).rounded(.up)) - 1]
            let estimate = windows[w].value(atMs: start + 1000)!
            #expect(abs(estimate - exact) / exact <= 0.01, "\(distribution) p\(q): \(estimate) vs \(exact)")
        }
    }

    @Test("Quantiles are exact up to 10,000 observations in the window")
    func exactQuantiles() {
        var window = PebbleWindow(spec: PebbleSpec(aggregation: .quantile(0.99), windowSeconds: 60))
        var values: [Double] = []
        for i in 0..<10_000 {
            let v = Double((i * 7919) % 10_007) / 3
            values.append(v)
            window.observe(v, at: 1_000_000, nowMs: 1_000_000)
        }
        values.sort()
        #expect(window.value(atMs: 1_000_000) == values[9899])
    }

    @Test("Memory per pebble series stays bounded as observations grow")
    func boundedMemory() {
        var window = PebbleWindow(spec: PebbleSpec(aggregation: .quantile(0.99), windowSeconds: 300))
        var rng = SplitMix(state: 7)
        var sizes: [Int] = []
        for i in 0..<1_000_000 {
            let v = Double(rng.next() % 1_000_000) / 1000 + 0.001
            window.observe(v, at: Int64(i), nowMs: Int64(i))
            if i % 100_000 == 99_999 { sizes.append(window.storageBytes) }
        }
        // Past the exact limit, the size depends on bins (value range), not on observations.
        #expect(sizes.last! <= 60 * 2048 * 16 + 100_000)
        #expect(sizes.last! <= sizes[1] * 2)
        var counter = PebbleWindow(spec: PebbleSpec(aggregation: .mean, windowSeconds: 300))
        for i in 0..<1_000_000 { counter.observe(1, at: Int64(i) * 10, nowMs: Int64(i) * 10) }
        #expect(counter.storageBytes < 100 * 200)  // Means keep no values at all.
    }

    @Test("A batch keeps pebble observations and replays them exactly downstream")
    func batchReplay() throws {
        let bodies = [
            "lat{clearmode=\"p90_1m\"} 5\nlat{clearmode=\"p90_1m\"} 9\n",
            "lat{clearmode=\"p90_1m\"} 1\ntemp{clearmode=\"mean1m\"} 4\n",
            "temp{clearmode=\"mean1m\"} 8\n",
        ]
        var direct = GroupState()
        var batch = GroupState(pebbleStorage: .observations)
        for (i, body) in bodies.enumerated() {
            let push = try ExpositionParser.parse(body)
            for family in push.families {
                direct.apply(family, nowMs: 1_000_000 + Int64(i) * 1000)
                batch.apply(family, nowMs: 1_000_000 + Int64(i) * 1000)
            }
        }
        var flush = ExpositionWriter(format: .text)
        batch.render(into: &flush, clearModes: true, nowMs: 1_005_000)
        var gateway = GroupState()
        let replay = try ExpositionParser.parse(flush.bytes)
        for family in replay.families { gateway.apply(family, nowMs: 1_005_000) }
        var a = ExpositionWriter(format: .text), b = ExpositionWriter(format: .text)
        direct.render(into: &a, nowMs: 1_006_000)
        gateway.render(into: &b, nowMs: 1_006_000)
        #expect(String(decoding: b.bytes, as: UTF8.self) == String(decoding: a.bytes, as: UTF8.self))
        #expect(String(decoding: a.bytes, as: UTF8.self) == "# TYPE lat gauge\nlat 9\n# TYPE temp gauge\ntemp 6\n")
    }
}

@Suite("Pebbles in replaced families")
struct PebbleFamilyReplayTests {
    @Test("A batch with a family push and pebble observations in one family replays exactly")
    func replacedFamilyKeepsPebbleModes() throws {
        let bodies = [
            "# TYPE v gauge\nv{version=\"1\",clearmode=\"family\"} 1\nv{kind=\"lat\",clearmode=\"max1m\"} 5\n",
            "# TYPE v gauge\nv{version=\"2\",clearmode=\"family\"} 1\nv{kind=\"lat\",clearmode=\"max1m\"} 3\n",
        ]
        var direct = GroupState()
        var batch = GroupState(pebbleStorage: .observations)
        for body in bodies {
            for family in try ExpositionParser.parse(body).families {
                direct.apply(family, nowMs: 1_000_000)
                batch.apply(family, nowMs: 1_000_000)
            }
        }
        var flush = ExpositionWriter(format: .text)
        batch.render(into: &flush, clearModes: true, nowMs: 1_000_000)
        let text = String(decoding: flush.bytes, as: UTF8.self)
        #expect(text.contains("v{kind=\"lat\",clearmode=\"max1m\"} 3 1000000\n"))
        var gateway = GroupState()
        for family in try ExpositionParser.parse(flush.bytes).families { gateway.apply(family, nowMs: 1_000_000) }
        var a = ExpositionWriter(format: .text), b = ExpositionWriter(format: .text)
        direct.render(into: &a, nowMs: 1_000_500)
        gateway.render(into: &b, nowMs: 1_000_500)
        #expect(String(decoding: b.bytes, as: UTF8.self) == String(decoding: a.bytes, as: UTF8.self))
    }
}

@Suite("Pebble edge cases")
struct PebbleEdgeTests {
    @Test("A first observation older than its window creates no series")
    func staleFirst() throws {
        var group = GroupState()
        let push = try ExpositionParser.parse("g{clearmode=\"max1m\"} 1 1000\n")
        var inserted = 0
        let stale = group.apply(push.families[0], nowMs: 10_000_000, inserted: { _ in inserted += 1 })
        #expect(stale == 1)
        #expect(inserted == 0)
        #expect(group.isEmpty)
    }

    @Test("Aggregating a plain value onto a pebble series makes it a plain series")
    func aggregateOverPebble() throws {
        var batch = GroupState(pebbleStorage: .observations)
        for body in ["g{clearmode=\"max1m\"} 4\n", "g{clearmode=\"sum\"} 5\n"] {
            for family in try ExpositionParser.parse(body).families { batch.apply(family, nowMs: 1_000_000) }
        }
        #expect(batch.families["g"]?.series[.empty]?.mode == .aggregate)
        #expect(batch.families["g"]?.series[.empty]?.value == .scalar(5))
    }
}
