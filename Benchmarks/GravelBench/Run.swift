import Shared

/// `gravel-bench run`: every CPU benchmark, as one JSON object.
enum Run {
    static func all(_ options: Options) -> JSON {
        var fields: [(String, JSON)] = [("quick", .bool(options.quick))]
        if options.only.contains("parse") { fields.append(("parse", parse(options))) }
        if options.only.contains("push") { fields.append(("push", push(options))) }
        if options.only.contains("merge") { fields.append(("merge", merge(options))) }
        if options.only.contains("render") { fields.append(("render", render(options))) }
        fields.append(("layout", layout()))
        return .object(fields)
    }

    /// Inline sizes of the stored types, for reading the memory per series: a stored
    /// series costs a dictionary slot of key + `SeriesState`, plus the key's heap bytes.
    static func layout() -> JSON {
        func entry<T>(_ type: T.Type) -> JSON {
            .object([("size", .int(MemoryLayout<T>.size)), ("stride", .int(MemoryLayout<T>.stride))])
        }
        return .object([
            ("LabelKey", entry(LabelKey.self)),
            ("SeriesValue", entry(SeriesValue.self)),
            ("ClearMode", entry(ClearMode.self)),
            ("SeriesState", entry(SeriesState.self)),
            ("FamilyState", entry(FamilyState.self)),
            ("ParsedSeries", entry(ParsedSeries.self)),
        ])
    }

    // MARK: - Parser throughput

    /// `ExpositionParser.parse` over the generated exposition, single-threaded.
    static func parse(_ options: Options) -> JSON {
        let body = Generator.exposition(targetBytes: Int(options.parseMB * 1_000_000))
        let lines = body.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
        let warmup = options.quick ? 1 : 2
        let iterations = options.quick ? 3 : 10
        log("parse: \(body.count) bytes, \(lines) lines, \(warmup) warm-up + \(iterations) runs")
        var series = 0
        var samples = 0
        var families = 0
        let samplesRun = body.withUnsafeBytes { raw -> Samples in
            var keep: ParsedPush? = phaseParse(raw, grouping: benchGrouping)
            families = keep!.families.count
            series = keep!.families.reduce(0) { $0 + $1.series.count }
            samples = keep!.sampleCount
            var values: [Double] = []
            for run in 0..<(warmup + iterations) {
                keep = nil  // Free the previous result outside the timed region.
                let t = time { keep = phaseParse(raw, grouping: benchGrouping) }
                if run >= warmup { values.append(t) }
            }
            blackHole(keep)
            return Samples(values: values)
        }
        let mb = Double(body.count) / 1e6
        return .object(
            [
                ("input_bytes", .int(body.count)),
                ("lines", .int(lines)),
                ("families", .int(families)),
                ("series", .int(series)),
                ("samples", .int(samples)),
                ("best_mb_s", .number(mb / samplesRun.best)),
                ("median_mb_s", .number(mb / samplesRun.median)),
                ("median_samples_per_s", .number(Double(samples) / samplesRun.median)),
            ] + samplesRun.json)
    }

    // MARK: - One push, without HTTP

    /// The CPU a gateway spends on one push of the ingest body after HTTP: parse, then merge
    /// into the group that already holds it (the steady state of repeated pushes).
    static func push(_ options: Options) -> JSON {
        let body = Generator.pushBody()
        let batch = 500
        let batches = options.quick ? 8 : 30
        return body.withUnsafeBytes { raw -> JSON in
            let parsed = phaseParse(raw, grouping: benchGrouping)
            let samples = parsed.sampleCount
            var state = GroupState()
            phaseMerge(parsed, into: &state, nowMs: nowMs)
            log("push: \(body.count) bytes, \(samples) samples, \(batches) batches of \(batch)")

            let parseRuns = Samples.measure(warmup: 1, iterations: batches) {
                for _ in 0..<batch { blackHole(phaseParse(raw, grouping: benchGrouping)) }
            }
            let mergeRuns = Samples.measure(warmup: 1, iterations: batches) {
                for _ in 0..<batch { phaseMerge(parsed, into: &state, nowMs: nowMs) }
            }
            let pushRuns = Samples.measure(warmup: 1, iterations: batches) {
                for _ in 0..<batch { phasePush(raw, into: &state, nowMs: nowMs) }
            }
            blackHole(state)
            func perOp(_ s: Samples) -> [(String, JSON)] {
                [
                    ("best_us", .number(s.best / Double(batch) * 1e6)),
                    ("median_us", .number(s.median / Double(batch) * 1e6)),
                ]
            }
            let pushMedian = pushRuns.median / Double(batch)
            return .object([
                ("body_bytes", .int(body.count)),
                ("samples", .int(samples)),
                ("parse", .object(perOp(parseRuns))),
                ("merge", .object(perOp(mergeRuns))),
                ("parse_and_merge", .object(perOp(pushRuns))),
                ("pushes_per_s_one_core", .number(1 / pushMedian)),
                ("samples_per_s_one_core", .number(Double(samples) / pushMedian)),
            ])
        }
    }

    // MARK: - Merge

    /// `GroupState.apply` of every family of the parsed exposition: into an empty group
    /// (every series inserted), then into the full group (every series aggregated or replaced).
    static func merge(_ options: Options) -> JSON {
        let body = Generator.exposition(targetBytes: Int(options.parseMB * 1_000_000))
        let parsed = body.withUnsafeBytes { phaseParse($0, grouping: benchGrouping) }
        let series = parsed.families.reduce(0) { $0 + $1.series.count }
        let iterations = options.quick ? 3 : 7
        log("merge: \(series) series, 1 warm-up + \(iterations) runs each")

        var inserts: [Double] = []
        var full = GroupState()
        for run in 0...iterations {
            var state: GroupState? = GroupState()
            let t = time { phaseMerge(parsed, into: &state!, nowMs: nowMs) }
            if run > 0 { inserts.append(t) }
            if run == iterations { full = state! }
            state = nil
        }
        let aggregates = Samples.measure(warmup: 1, iterations: iterations) {
            phaseMerge(parsed, into: &full, nowMs: nowMs)
        }
        blackHole(full)
        let insertRuns = Samples(values: inserts)
        return .object([
            ("series", .int(series)),
            ("insert", .object([("ns_per_series", .number(insertRuns.median / Double(series) * 1e9))] + insertRuns.json)),
            ("aggregate", .object([("ns_per_series", .number(aggregates.median / Double(series) * 1e9))] + aggregates.json)),
        ])
    }

    // MARK: - Render

    /// `GroupState.render` through `ExpositionWriter` of a group holding the scrape
    /// benchmark's series (1,000,000 by default), and the memory the group takes. Then the
    /// same series as the gateway holds them, one GroupState per group of 1,000, and the
    /// memory of their keys alone.
    static func render(_ options: Options) -> JSON {
        let perGroup = options.families * options.perFamily
        let groups = max(1, options.renderSeries / perGroup)
        let iterations = options.quick ? 3 : 5
        func rss() -> Int {
            trimHeap()
            return procStatusBytes("VmRSS")
        }

        // One GroupState holding every series.
        var rssBefore = rss()
        var state = GroupState()
        let build = time {
            state = buildScrapeState(groups: groups, families: options.families, perFamily: options.perFamily, nowMs: nowMs)
        }
        let oneStateBytes = rss() - rssBefore
        let series = state.seriesCount
        log("render: \(series) series in \(options.families) families (built in \(Int(build * 1000)) ms)")
        var outputBytes = 0
        let first = time { outputBytes = phaseRender(&state, nowMs: nowMs) }
        let runs = Samples.measure(warmup: 1, iterations: iterations) {
            outputBytes = phaseRender(&state, nowMs: nowMs)
        }
        blackHole(state)
        state = GroupState()

        // One GroupState per group, as the gateway's store keeps them.
        rssBefore = rss()
        var states = buildScrapeGroups(groups: groups, families: options.families, perFamily: options.perFamily, nowMs: nowMs)
        let perGroupBytes = rss() - rssBefore
        log("render: \(groups) groups of \(perGroup) series")
        var groupsOutput = 0
        let groupsFirst = time { groupsOutput = phaseRenderGroups(&states, nowMs: nowMs) }
        let groupRuns = Samples.measure(warmup: 1, iterations: iterations) {
            groupsOutput = phaseRenderGroups(&states, nowMs: nowMs)
        }
        blackHole(states)
        states = []

        // The keys alone.
        rssBefore = rss()
        let keys = buildScrapeKeys(groups: groups, families: options.families, perFamily: options.perFamily)
        let keyBytes = rss() - rssBefore
        let keyLength = keys.reduce(0) { $0 + $1.bytes.count }
        blackHole(keys)

        let n = Double(max(series, 1))
        return .object([
            ("series", .int(series)),
            ("output_bytes", .int(outputBytes)),
            (
                "one_group",
                .object(
                    [
                        ("build_ms", .number(build * 1000)),
                        ("rss_bytes", .int(oneStateBytes)),
                        ("bytes_per_series", .number(Double(oneStateBytes) / n)),
                        ("first_render_ms", .number(first * 1000)),
                        ("median_mb_s", .number(Double(outputBytes) / 1e6 / runs.median)),
                        ("ns_per_series", .number(runs.median / n * 1e9)),
                    ] + runs.json)
            ),
            (
                "per_group",
                .object(
                    [
                        ("groups", .int(groups)),
                        ("output_bytes", .int(groupsOutput)),
                        ("rss_bytes", .int(perGroupBytes)),
                        ("bytes_per_series", .number(Double(perGroupBytes) / n)),
                        ("first_render_ms", .number(groupsFirst * 1000)),
                        ("median_mb_s", .number(Double(groupsOutput) / 1e6 / groupRuns.median)),
                        ("ns_per_series", .number(groupRuns.median / n * 1e9)),
                    ] + groupRuns.json)
            ),
            (
                "keys_only",
                .object([
                    ("mean_key_length", .number(Double(keyLength) / Double(max(keys.count, 1)))),
                    ("rss_bytes", .int(keyBytes)),
                    ("bytes_per_series", .number(Double(keyBytes) / Double(max(keys.count, 1)))),
                ])
            ),
        ])
    }
}

/// `gravel-bench profile <phase>`: the set-up, then one phase, for callgrind to toggle on.
enum Profile {
    static func run(_ options: Options) {
        switch options.subject {
        case "parse":
            let body = Generator.exposition(targetBytes: Int(options.parseMB * 1_000_000))
            body.withUnsafeBytes { blackHole(phaseParse($0, grouping: benchGrouping)) }
        case "merge-insert", "merge-aggregate":
            let body = Generator.exposition(targetBytes: Int(options.parseMB * 1_000_000))
            let parsed = body.withUnsafeBytes { phaseParse($0, grouping: benchGrouping) }
            var state = GroupState()
            if options.subject == "merge-aggregate" {
                // The first merge inserts; it stays outside the profiled function.
                for family in parsed.families { state.apply(family, nowMs: nowMs) }
            }
            phaseMerge(parsed, into: &state, nowMs: nowMs)
            blackHole(state)
        case "render":
            let perGroup = options.families * options.perFamily
            var state = buildScrapeState(
                groups: max(1, options.renderSeries / perGroup), families: options.families,
                perFamily: options.perFamily, nowMs: nowMs)
            // A first render outside the profiled phase sorts and caches the keys.
            var warm = ExpositionWriter(format: .text, capacity: 1 << 16)
            state.render(into: &warm, nowMs: nowMs)
            blackHole(warm.bytes.count)
            blackHole(phaseRender(&state, nowMs: nowMs))
        case "push":
            let body = Generator.pushBody()
            var state = GroupState()
            body.withUnsafeBytes { raw in
                for _ in 0..<options.pushes { phasePush(raw, into: &state, nowMs: nowMs) }
            }
            blackHole(state)
        default:
            fail("profile takes parse, merge-insert, merge-aggregate, render or push")
        }
    }
}
