/// The binary form of a group's state in the gateway's snapshots.
///
/// Everything a scrape or a later push can observe is kept, pebble windows down to their
/// time buckets, raw values and sketch bins, so a loaded state renders and merges exactly as
/// the saved one did. A plain series costs its key bytes plus about 12 bytes.
extension GroupState {
    package func encode(into w: inout BinaryWriter) {
        w.count(families.count)
        for (name, family) in families {
            w.string(name)
            family.encode(into: &w)
        }
    }

    package static func decode(from r: inout BinaryReader) throws(BinaryReader.Malformed) -> GroupState {
        var state = GroupState()
        let n = try r.count(minimumItemBytes: 4)
        state.families.reserveCapacity(n)
        for _ in 0..<n {
            let name = try r.string()
            guard state.families[name] == nil else { throw r.fail("family \(name) appears twice") }
            state.families[name] = try FamilyState.decode(from: &r)
        }
        return state
    }
}

extension FamilyState {
    func encode(into w: inout BinaryWriter) {
        w.u8(type.rawValue)
        w.optionalString(help)
        w.bool(replaced)
        w.count(series.count)
        for (key, state) in series {
            w.blob(key.bytes)
            state.mode.encode(into: &w)
            state.value.encode(into: &w)
        }
    }

    static func decode(from r: inout BinaryReader) throws(BinaryReader.Malformed) -> FamilyState {
        guard let type = MetricType(rawValue: try r.u8()) else { throw r.fail("unknown metric type") }
        var family = FamilyState(type: type, help: try r.optionalString())
        family.replaced = try r.bool()
        let n = try r.count(minimumItemBytes: 3)
        family.series.reserveCapacity(n)
        for _ in 0..<n {
            let key = LabelKey(bytes: Array(try r.blob()))
            let mode = try ClearMode.decode(from: &r)
            let value = try SeriesValue.decode(from: &r)
            family.series[key] = SeriesState(value: value, mode: mode)
        }
        family.sortedCache = nil
        return family
    }
}

extension ClearMode {
    func encode(into w: inout BinaryWriter) {
        switch self {
        case .aggregate: w.u8(0)
        case .replace: w.u8(1)
        case .family: w.u8(2)
        case .pebble(let spec):
            w.u8(3)
            spec.encode(into: &w)
        }
    }

    static func decode(from r: inout BinaryReader) throws(BinaryReader.Malformed) -> ClearMode {
        switch try r.u8() {
        case 0: return .aggregate
        case 1: return .replace
        case 2: return .family
        case 3: return .pebble(try PebbleSpec.decode(from: &r))
        default: throw r.fail("unknown clearmode")
        }
    }
}

extension PebbleSpec {
    func encode(into w: inout BinaryWriter) {
        switch aggregation {
        case .sum: w.u8(0)
        case .mean: w.u8(1)
        case .min: w.u8(2)
        case .max: w.u8(3)
        case .count: w.u8(4)
        case .last: w.u8(5)
        case .quantile(let q):
            w.u8(6)
            w.f64(q)
        }
        w.count(windowSeconds)
    }

    static func decode(from r: inout BinaryReader) throws(BinaryReader.Malformed) -> PebbleSpec {
        let aggregation: Aggregation
        switch try r.u8() {
        case 0: aggregation = .sum
        case 1: aggregation = .mean
        case 2: aggregation = .min
        case 3: aggregation = .max
        case 4: aggregation = .count
        case 5: aggregation = .last
        case 6:
            let q = try r.f64()
            guard q > 0, q < 1 else { throw r.fail("quantile \(q) outside (0, 1)") }
            aggregation = .quantile(q)
        default: throw r.fail("unknown pebble aggregation")
        }
        let window = try r.varint()
        // The parser's largest window is 999999999h; beyond it the window's milliseconds overflow.
        guard window > 0, window <= 999_999_999 * 3600 else { throw r.fail("pebble window of \(window)s") }
        return PebbleSpec(aggregation: aggregation, windowSeconds: Int(window))
    }
}

extension SeriesValue {
    package func encode(into w: inout BinaryWriter) {
        switch self {
        case .scalar(let v):
            w.u8(0)
            w.f64(v)
        case .histogram(let h):
            w.u8(1)
            w.count(h.buckets.count)
            for b in h.buckets {
                w.f64(b.upperBound)
                w.f64(b.count)
            }
            Self.encode(h.sum, into: &w)
        case .summary(let s):
            w.u8(2)
            w.count(s.quantiles.count)
            for q in s.quantiles {
                w.f64(q.quantile)
                w.f64(q.value)
            }
            Self.encode(s.sum, into: &w)
            Self.encode(s.count, into: &w)
        case .window(let window):
            w.u8(3)
            window.encode(into: &w)
        case .observations(let list):
            w.u8(4)
            w.count(list.count)
            for o in list {
                w.f64(o.value)
                w.zigzag(o.timestampMs)
            }
        case .nativeHistogram(let native, let classic):
            w.u8(5)
            w.zigzag(Int64(native.schema))
            w.f64(native.zeroThreshold)
            w.f64(native.zeroCount)
            w.f64(native.count)
            w.f64(native.sum)
            w.bool(native.floatCounts)
            for buckets in [native.positive, native.negative] {
                w.count(buckets.count)
                for b in buckets {
                    w.zigzag(Int64(b.index))
                    w.f64(b.count)
                }
            }
            w.bool(classic != nil)
            if let classic { SeriesValue.histogram(classic).encode(into: &w) }
        }
    }

    package static func decode(from r: inout BinaryReader) throws(BinaryReader.Malformed) -> SeriesValue {
        switch try r.u8() {
        case 0:
            return .scalar(try r.f64())
        case 1:
            let n = try r.count(minimumItemBytes: 16)
            var buckets: [Bucket] = []
            buckets.reserveCapacity(n)
            for _ in 0..<n { buckets.append(Bucket(upperBound: try r.f64(), count: try r.f64())) }
            return .histogram(HistogramValue(buckets: buckets, sum: try decodeOptional(from: &r)))
        case 2:
            let n = try r.count(minimumItemBytes: 16)
            var quantiles: [Quantile] = []
            quantiles.reserveCapacity(n)
            for _ in 0..<n { quantiles.append(Quantile(quantile: try r.f64(), value: try r.f64())) }
            let sum = try decodeOptional(from: &r)
            return .summary(SummaryValue(quantiles: quantiles, sum: sum, count: try decodeOptional(from: &r)))
        case 3:
            return .window(try PebbleWindow.decode(from: &r))
        case 4:
            let n = try r.count(minimumItemBytes: 9)
            var list: [TimedValue] = []
            list.reserveCapacity(n)
            for _ in 0..<n { list.append(TimedValue(value: try r.f64(), timestampMs: try r.zigzag())) }
            return .observations(list)
        case 5:
            guard let schema = Int32(exactly: try r.zigzag()), NativeHistogram.schemas.contains(schema) else {
                throw r.fail("native histogram schema out of range")
            }
            var native = NativeHistogram(schema: schema, zeroThreshold: try r.f64())
            native.zeroCount = try r.f64()
            native.count = try r.f64()
            native.sum = try r.f64()
            native.floatCounts = try r.bool()
            for negative in [false, true] {
                let n = try r.count(minimumItemBytes: 9)
                var buckets: [NativeHistogram.Bucket] = []
                buckets.reserveCapacity(n)
                for _ in 0..<n {
                    guard let index = Int32(exactly: try r.zigzag()) else { throw r.fail("native bucket index out of range") }
                    guard buckets.last.map({ $0.index < index }) ?? true else { throw r.fail("native buckets out of order") }
                    buckets.append(NativeHistogram.Bucket(index: index, count: try r.f64()))
                }
                if negative { native.negative = buckets } else { native.positive = buckets }
            }
            var classic: HistogramValue? = nil
            if try r.bool() {
                guard case .histogram(let h) = try decode(from: &r) else {
                    throw r.fail("a native histogram's classic part is not a histogram")
                }
                classic = h
            }
            return .nativeHistogram(native, classic: classic)
        default:
            throw r.fail("unknown value kind")
        }
    }

    static func encode(_ v: Double?, into w: inout BinaryWriter) {
        w.bool(v != nil)
        if let v { w.f64(v) }
    }

    static func decodeOptional(from r: inout BinaryReader) throws(BinaryReader.Malformed) -> Double? {
        try r.bool() ? try r.f64() : nil
    }
}

extension PebbleWindow {
    func encode(into w: inout BinaryWriter) {
        spec.encode(into: &w)
        w.count(observations)
        w.bool(sketching)
        w.count(buckets.count)
        for b in buckets {
            w.zigzag(b.index)
            w.count(b.count)
            w.f64(b.sum)
            w.f64(b.min)
            w.f64(b.max)
            w.zigzag(b.lastTimestampMs)
            w.f64(b.last)
            w.count(b.values.count)
            for v in b.values { w.f64(v) }
            w.bool(b.sketch != nil)
            if let sketch = b.sketch { sketch.encode(into: &w) }
        }
    }

    static func decode(from r: inout BinaryReader) throws(BinaryReader.Malformed) -> PebbleWindow {
        var window = PebbleWindow(spec: try PebbleSpec.decode(from: &r))
        window.observations = Int(try r.varint() & 0x7FFF_FFFF_FFFF_FFFF)
        window.sketching = try r.bool()
        let n = try r.count(minimumItemBytes: 40)
        window.buckets.reserveCapacity(n)
        for _ in 0..<n {
            var b = Bucket(index: try r.zigzag())
            if let previous = window.buckets.last, previous.index >= b.index {
                throw r.fail("pebble buckets out of order")
            }
            b.count = Int(try r.varint() & 0x7FFF_FFFF_FFFF_FFFF)
            b.sum = try r.f64()
            b.min = try r.f64()
            b.max = try r.f64()
            b.lastTimestampMs = try r.zigzag()
            b.last = try r.f64()
            let values = try r.count(minimumItemBytes: 8)
            b.values.reserveCapacity(values)
            for _ in 0..<values { b.values.append(try r.f64()) }
            if try r.bool() { b.sketch = try LogSketch.decode(from: &r) }
            window.buckets.append(b)
        }
        return window
    }
}

extension LogSketch {
    func encode(into w: inout BinaryWriter) {
        w.count(count)
        w.varint(UInt64(zeros))
        for bins in [positive, negative] {
            // The floor keeps a collapsed sketch collapsing the same way after a restart.
            w.zigzag(Int64(bins.floor))
            // Sorted so equal sketches encode to equal bytes.
            w.count(bins.counts.count)
            for k in bins.counts.keys.sorted() {
                w.zigzag(Int64(k))
                w.varint(UInt64(bins.counts[k]!))
            }
        }
    }

    static func decode(from r: inout BinaryReader) throws(BinaryReader.Malformed) -> LogSketch {
        var sketch = LogSketch()
        sketch.count = Int(try r.varint() & 0x7FFF_FFFF_FFFF_FFFF)
        sketch.zeros = Int(try r.varint() & 0x7FFF_FFFF_FFFF_FFFF)
        for negativeBins in [false, true] {
            var bins = Bins()
            guard let floor = Int32(exactly: try r.zigzag()) else { throw r.fail("sketch floor out of range") }
            bins.floor = floor
            let n = try r.count(minimumItemBytes: 2)
            bins.counts.reserveCapacity(n)
            for _ in 0..<n {
                guard let k = Int32(exactly: try r.zigzag()), k >= floor else { throw r.fail("sketch bin out of range") }
                bins.counts[k] = Int(try r.varint() & 0x7FFF_FFFF_FFFF_FFFF)
            }
            if negativeBins { sketch.negative = bins } else { sketch.positive = bins }
        }
        return sketch
    }
}

extension GroupingKey {
    /// The group's labels, as the log's records and the snapshots store them.
    package func encode(into w: inout BinaryWriter) {
        w.count(labels.count)
        for (name, value) in labels {
            w.string(name)
            w.string(value)
        }
    }

    package static func decode(from r: inout BinaryReader) throws(BinaryReader.Malformed) -> GroupingKey {
        let count = try r.count(minimumItemBytes: 2)
        var labels: [(name: String, value: String)] = []
        for _ in 0..<count { labels.append((try r.string(), try r.string())) }
        return GroupingKey(labels: labels)
    }
}
