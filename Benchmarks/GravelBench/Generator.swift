/// Deterministic generators for every body the benchmarks use.
///
/// The same seed gives the same bytes on every machine, so parser throughput and the
/// ingest runs of both gateways are measured on identical input from run to run.
struct SplitMix64 {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

/// An append-only byte buffer with the few formatting helpers the generators need.
struct Text {
    var bytes: [UInt8] = []

    init(capacity: Int = 1 << 16) { bytes.reserveCapacity(capacity) }

    var count: Int { bytes.count }

    mutating func put(_ s: String) { bytes.append(contentsOf: s.utf8) }
    mutating func put(_ n: Int) { bytes.append(contentsOf: String(n).utf8) }
    mutating func byte(_ b: UInt8) { bytes.append(b) }
}

enum Generator {
    /// Histogram bounds: 12 buckets including `+Inf`, as a client library's defaults.
    static let bounds: [String] = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"]

    static let methods = ["GET", "POST", "PUT", "DELETE", "PATCH"]
    static let codes = ["200", "201", "204", "301", "400", "404", "500", "503"]
    static let regions = ["eu-west-1", "eu-central-1", "us-east-1", "us-west-2", "ap-southeast-2"]

    // MARK: - The ingest push body

    /// The push body both gateways ingest: 60 labelled counters (6 families × 10), 10
    /// gauges (2 families × 5), 3 histograms with 12 buckets each, HELP and TYPE for every
    /// family and one escaped label value: 112 sample lines.
    static func pushBody() -> [UInt8] {
        var t = Text(capacity: 8192)
        var rng = SplitMix64(seed: 0x6772_6176_656C)  // "gravel"
        let counterFamilies = [
            "app_http_requests_total", "app_http_responses_total", "app_db_queries_total",
            "app_cache_hits_total", "app_cache_misses_total", "app_jobs_processed_total",
        ]
        for (f, name) in counterFamilies.enumerated() {
            t.put("# HELP \(name) Things counted by the application, family \(f).\n")
            t.put("# TYPE \(name) counter\n")
            for s in 0..<10 {
                t.put(name)
                t.put("{method=\"\(methods[s % methods.count])\",route=\"/api/v1/resource")
                t.put(s)
                t.put("\",code=\"\(codes[(s + f) % codes.count])\"")
                if f == 0 && s == 9 { t.put(",note=\"say \\\"hi\\\" \\\\ done\"") }
                t.put("} ")
                t.put(1 + rng.below(100))
                t.byte(0x0A)
            }
        }
        for (f, name) in ["app_queue_depth", "app_pool_connections"].enumerated() {
            t.put("# HELP \(name) Current level, family \(f).\n")
            t.put("# TYPE \(name) gauge\n")
            for s in 0..<5 {
                t.put("\(name){queue=\"q\(s)\",region=\"\(regions[s])\"} ")
                t.put(rng.below(1000))
                t.put(".5\n")
            }
        }
        let hist = "app_request_duration_seconds"
        t.put("# HELP \(hist) Request latency in seconds.\n")
        t.put("# TYPE \(hist) histogram\n")
        for s in 0..<3 {
            let labels = "route=\"/api/v1/resource\(s)\",method=\"GET\""
            var cumulative = 0
            for bound in bounds {
                cumulative += rng.below(5)
                t.put("\(hist)_bucket{\(labels),le=\"\(bound)\"} ")
                t.put(cumulative)
                t.byte(0x0A)
            }
            t.put("\(hist)_sum{\(labels)} ")
            t.put(cumulative * 3)
            t.put(".25\n")
            t.put("\(hist)_count{\(labels)} ")
            t.put(cumulative)
            t.byte(0x0A)
        }
        return t.bytes
    }

    // MARK: - Scrape load bodies

    /// One group's body for the scrape benchmark: `families` families (half counters, half
    /// gauges) of `perFamily` series each, three labels per series. The gateway adds the
    /// group's path labels (`job`, `instance`), so the same body in every group gives
    /// distinct series.
    static func scrapeBody(families: Int, perFamily: Int) -> [UInt8] {
        var t = Text(capacity: families * perFamily * 64)
        for f in 0..<families {
            let counter = f % 2 == 0
            let name = counter ? "load_requests_\(f)_total" : "load_inflight_\(f)"
            t.put("# HELP \(name) Scrape benchmark family \(f).\n")
            t.put("# TYPE \(name) \(counter ? "counter" : "gauge")\n")
            for s in 0..<perFamily {
                t.put("\(name){route=\"/r/")
                t.put(s)
                t.put("\",method=\"\(methods[s % methods.count])\",code=\"\(codes[s % codes.count])\"} ")
                t.put(s + f)
                t.byte(0x0A)
            }
        }
        return t.bytes
    }

    // MARK: - The parser's exposition

    /// A realistic exposition of at least `targetBytes` bytes: counters, gauges and
    /// histograms, 3 to 6 labels per series written in client order (not sorted), integer,
    /// fractional and exponent values, HELP lines and about one label value in 16 with an escape.
    static func exposition(targetBytes: Int, seed: UInt64 = 42) -> [UInt8] {
        var t = Text(capacity: targetBytes + 65536)
        var rng = SplitMix64(seed: seed)
        let labelNames = ["route", "method", "code", "instance", "region", "tenant"]
        var f = 0
        while t.count < targetBytes {
            let kind = f % 10  // 0-3 counter, 4-6 gauge, 7-9 histogram
            let labelCount = 3 + f % 4
            let seriesCount = kind >= 7 ? 10 + rng.below(30) : 40 + rng.below(160)
            let base: String
            switch kind {
            case 0...3: base = "svc_\(f)_events_total"
            case 4...6: base = "svc_\(f)_level_bytes"
            default: base = "svc_\(f)_latency_seconds"
            }
            t.put("# HELP \(base) Generated family \(f); help with an escape \\\\ and a newline \\n.\n")
            t.put("# TYPE \(base) \(kind <= 3 ? "counter" : kind <= 6 ? "gauge" : "histogram")\n")
            for s in 0..<seriesCount {
                var labels = Text(capacity: 160)
                for l in 0..<labelCount {
                    if l > 0 { labels.byte(UInt8(ascii: ",")) }
                    labels.put(labelNames[l])
                    labels.put("=\"")
                    switch l {
                    case 0:
                        labels.put("/api/v\(f % 3)/items/")
                        labels.put(s)
                    case 1: labels.put(methods[rng.below(methods.count)])
                    case 2: labels.put(codes[rng.below(codes.count)])
                    case 3: labels.put("10.0.\(rng.below(256)).\(rng.below(256)):9100")
                    case 4: labels.put(regions[rng.below(regions.count)])
                    default:
                        if rng.below(16) == 0 {
                            labels.put("acme \\\"corp\\\" \\\\ eu\\nwest")
                        } else {
                            labels.put("tenant-")
                            labels.put(rng.below(5000))
                        }
                    }
                    labels.byte(UInt8(ascii: "\""))
                }
                if kind <= 6 {
                    t.put(base)
                    t.byte(UInt8(ascii: "{"))
                    t.bytes.append(contentsOf: labels.bytes)
                    t.put("} ")
                    switch rng.below(4) {
                    case 0: t.put(rng.below(1_000_000_000))
                    case 1:
                        t.put(rng.below(100_000))
                        t.byte(UInt8(ascii: "."))
                        t.put(rng.below(1000))
                    case 2: t.put("\(1 + rng.below(9)).\(rng.below(1000))e+0\(rng.below(10))")
                    default: t.put(kind <= 3 ? "0" : "-\(rng.below(100)).25")
                    }
                    t.byte(0x0A)
                } else {
                    var cumulative = 0
                    for bound in bounds {
                        cumulative += rng.below(50)
                        t.put(base)
                        t.put("_bucket{")
                        t.bytes.append(contentsOf: labels.bytes)
                        t.put(",le=\"\(bound)\"} ")
                        t.put(cumulative)
                        t.byte(0x0A)
                    }
                    t.put(base)
                    t.put("_sum{")
                    t.bytes.append(contentsOf: labels.bytes)
                    t.put("} ")
                    t.put(cumulative * 7)
                    t.put(".125\n")
                    t.put(base)
                    t.put("_count{")
                    t.bytes.append(contentsOf: labels.bytes)
                    t.put("} ")
                    t.put(cumulative)
                    t.byte(0x0A)
                }
            }
            f += 1
        }
        return t.bytes
    }
}
