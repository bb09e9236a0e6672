/// Writes families and series in the text format 0.0.4 or OpenMetrics.
///
/// The writer only formats; callers decide the order (sorted for a deterministic scrape).
public struct ExpositionWriter {
    public let format: ExpositionFormat
    public private(set) var bytes: [UInt8]
    /// Formatted `le`/`quantile` values: a family's series share their bounds.
    private var boundCache: [Double: [UInt8]] = [:]
    /// Write `instance=""` on every series without an `instance` label, as the Pushgateway
    /// does: Prometheus scraping with `honor_labels: true` then keeps series free of the
    /// gateway's own address, so series identity does not depend on which gateway was scraped.
    public var addsEmptyInstance = false
    /// Where the current series' key takes `instance=""` (a byte offset), if it does.
    private var instanceInsertion: Int? = nil
    /// How names outside the legacy character set are written; `nil` when the store can
    /// hold none (UTF-8 names off), so no name is looked at.
    public var nameEscaping: NameEscaping? = nil
    /// How the current series writes its sample name.
    private var sampleName = SampleName.plain
    /// Escaped sample names, by the name they stand for (a family writes a few).
    private var escapedNames: [[UInt8]: [UInt8]] = [:]

    private enum SampleName {
        /// As it is: a legacy name, or any name with UTF-8 names off.
        case plain
        /// `{"my.metric",...}`: a UTF-8 name in a scrape that allows them.
        case quoted
        /// Through ``NameRules/escape(_:_:label:)`` with the name's suffix.
        case escaped(NameEscaping)
    }

    public init(format: ExpositionFormat, capacity: Int = 4096) {
        self.format = format
        self.bytes = []
        self.bytes.reserveCapacity(capacity)
    }

    /// The `Content-Type` of what this writer produces.
    public var contentType: String {
        switch (format, nameEscaping) {
        case (.text, nil): "text/plain; version=0.0.4; charset=utf-8"
        case (.openMetrics, nil): "application/openmetrics-text; version=1.0.0; charset=utf-8"
        // Text 1.0.0 is 0.0.4 with quoted UTF-8 names.
        case (.text, .allowUTF8?): "text/plain; version=1.0.0; charset=utf-8; escaping=allow-utf-8"
        case (.text, let scheme?): "text/plain; version=0.0.4; charset=utf-8; escaping=\(scheme.rawValue)"
        case (.openMetrics, let scheme?): "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=\(scheme.rawValue)"
        }
    }

    /// The name sample lines use for a family's values, as bytes, and the name its
    /// metadata lines use. They differ only for OpenMetrics counters.
    public func names(family name: String, type: MetricType) -> (sample: [UInt8], metadata: String) {
        guard format == .openMetrics, type == .counter else { return (Array(name.utf8), name) }
        if name.hasSuffix("_total") { return (Array(name.utf8), String(name.dropLast(6))) }
        return (Array((name + "_total").utf8), name)
    }

    /// Writes `# HELP` (when there is help) and `# TYPE`.
    public mutating func writeHeader(metadataName: String, type: MetricType, help: String?) {
        if let help {
            append("# HELP ")
            appendMetadataName(metadataName)
            bytes.append(0x20)
            for b in help.utf8 {
                switch b {
                case 0x5C:
                    bytes.append(0x5C)
                    bytes.append(0x5C)
                case 0x0A:
                    bytes.append(0x5C)
                    bytes.append(UInt8(ascii: "n"))
                case 0x22 where format == .openMetrics:
                    bytes.append(0x5C)
                    bytes.append(0x22)
                default: bytes.append(b)
                }
            }
            bytes.append(0x0A)
        }
        append("# TYPE ")
        appendMetadataName(metadataName)
        bytes.append(0x20)
        append(format == .openMetrics ? type.openMetricsName : type.textName)
        bytes.append(0x0A)
    }

    /// Writes the sample lines of one series.
    ///
    /// - Parameters:
    ///   - name: the family's sample name (see ``names(family:type:)``).
    ///   - extraLabel: a pre-rendered `name="value"` appended to every line's labels
    ///     (the extension adds `clearmode` this way).
    public mutating func writeSeries(
        name: [UInt8], type: MetricType, key: LabelKey, value: SeriesValue,
        extraLabel: [UInt8]? = nil, timestampMs: Int64? = nil
    ) {
        var key = key
        if let nameEscaping {
            let legacy = NameRules.isLegacyMetricName(name)
            switch nameEscaping {
            case .allowUTF8: sampleName = legacy ? .plain : .quoted
            case .dots: sampleName = .escaped(.dots)
            case .underscores, .values: sampleName = legacy ? .plain : .escaped(nameEscaping)
            }
            if nameEscaping == .dots || (nameEscaping != .allowUTF8 && key.hasQuotedName) {
                key = LabelKey(bytes: Self.escapeNames(in: key.bytes, nameEscaping))
            }
        }
        instanceInsertion = addsEmptyInstance ? Self.emptyInstanceInsertion(in: key.bytes) : nil
        switch value {
        case .scalar(let v):
            line(name, suffix: "", key, extraLabel, nil, nil, v, timestampMs)
        case .histogram(let h), .nativeHistogram(_, classic: let h?):
            for bucket in h.buckets {
                line(name, suffix: "_bucket", key, extraLabel, "le", bucket.upperBound, bucket.count, nil)
            }
            let gauge = type == .gaugeHistogram && format == .openMetrics
            if let sum = h.sum { line(name, suffix: gauge ? "_gsum" : "_sum", key, extraLabel, nil, nil, sum, nil) }
            line(name, suffix: gauge ? "_gcount" : "_count", key, extraLabel, nil, nil, h.count, nil)
        case .summary(let s):
            for q in s.quantiles {
                line(name, suffix: "", key, extraLabel, "quantile", q.quantile, q.value, nil)
            }
            if let sum = s.sum { line(name, suffix: "_sum", key, extraLabel, nil, nil, sum, nil) }
            if let count = s.count { line(name, suffix: "_count", key, extraLabel, nil, nil, count, nil) }
        case .observations(let list):
            for observation in list {
                line(name, suffix: "", key, extraLabel, nil, nil, observation.value, observation.timestampMs)
            }
        case .nativeHistogram(_, classic: nil):
            // The text formats have no native histograms (see `ScrapeWriter.shows`).
            break
        case .window:
            // Callers resolve windows with `SeriesValue.exposed(atMs:)`: their value depends on the time.
            break
        }
    }

    /// Ends the exposition (`# EOF` for OpenMetrics).
    public mutating func finish() {
        if format == .openMetrics { append("# EOF\n") }
    }

    /// Hands over what was written so far and starts empty again, keeping the capacity:
    /// a scrape streams its response in chunks of one reused buffer.
    public mutating func takeBytes() -> [UInt8] {
        let taken = bytes
        bytes.removeAll(keepingCapacity: true)
        return taken
    }

    /// Appends raw bytes (pre-rendered content).
    public mutating func appendRaw(_ raw: [UInt8]) { bytes.append(contentsOf: raw) }

    // MARK: - Lines

    private mutating func line(
        _ name: [UInt8], suffix: StaticString, _ key: LabelKey, _ extra: [UInt8]?,
        _ boundLabel: StaticString?, _ bound: Double?, _ value: Double, _ timestampMs: Int64?
    ) {
        var quotedName = false
        switch sampleName {
        case .plain:
            bytes.append(contentsOf: name)
            if suffix.utf8CodeUnitCount > 0 { append(suffix) }
        case .quoted:
            quotedName = true
        case .escaped(let scheme):
            appendEscapedName(name, suffix, scheme)
        }
        let hasLabels = !key.bytes.isEmpty || extra != nil || boundLabel != nil || instanceInsertion != nil
        if quotedName {
            bytes.append(UInt8(ascii: "{"))
            bytes.append(UInt8(ascii: "\""))
            bytes.append(contentsOf: name)
            if suffix.utf8CodeUnitCount > 0 { append(suffix) }
            bytes.append(UInt8(ascii: "\""))
            if hasLabels { bytes.append(UInt8(ascii: ",")) } else { bytes.append(UInt8(ascii: "}")) }
        }
        if hasLabels {
            if !quotedName { bytes.append(UInt8(ascii: "{")) }
            if let at = instanceInsertion {
                // The key is sorted by label name; `instance=""` goes where it sorts.
                key.bytes.withUnsafeBufferPointer { keyBytes in
                    // `at` is a label's first byte (after a comma) or the end of the key.
                    bytes.append(contentsOf: UnsafeBufferPointer(rebasing: keyBytes[..<at]))
                    if at == keyBytes.count, at > 0 { bytes.append(UInt8(ascii: ",")) }
                    append(#"instance="""#)
                    if at < keyBytes.count {
                        bytes.append(UInt8(ascii: ","))
                        bytes.append(contentsOf: UnsafeBufferPointer(rebasing: keyBytes[at...]))
                    }
                }
            } else {
                bytes.append(contentsOf: key.bytes)
            }
            var needsComma = !key.bytes.isEmpty || instanceInsertion != nil
            if let extra {
                if needsComma { bytes.append(UInt8(ascii: ",")) }
                bytes.append(contentsOf: extra)
                needsComma = true
            }
            if let boundLabel, let bound {
                if needsComma { bytes.append(UInt8(ascii: ",")) }
                append(boundLabel)
                bytes.append(UInt8(ascii: "="))
                bytes.append(UInt8(ascii: "\""))
                if let cached = boundCache[bound] {
                    bytes.append(contentsOf: cached)
                } else {
                    var formatted: [UInt8] = []
                    NumberFormatting.appendDouble(bound, to: &formatted)
                    boundCache[bound] = formatted
                    bytes.append(contentsOf: formatted)
                }
                bytes.append(UInt8(ascii: "\""))
            }
            bytes.append(UInt8(ascii: "}"))
        }
        bytes.append(0x20)
        NumberFormatting.appendDouble(value, to: &bytes)
        if let timestampMs {
            bytes.append(0x20)
            switch format {
            case .text:
                NumberFormatting.appendInt(timestampMs, to: &bytes)
            case .openMetrics:
                NumberFormatting.appendDouble(Double(timestampMs) / 1000, to: &bytes)
            }
        }
        bytes.append(0x0A)
    }

    /// The byte offset of the first label in a canonical key that sorts after `instance`
    /// (the key's length when none does), or `nil` when the key
    /// has an `instance` label already.
    static func emptyInstanceInsertion(in key: [UInt8]) -> Int? {
        let instance: StaticString = "instance"
        let target = UnsafeBufferPointer(start: instance.utf8Start, count: instance.utf8CodeUnitCount)
        var i = 0
        let n = key.count
        while i < n {
            let nameStart = i
            let name: ArraySlice<UInt8>
            if key[i] == UInt8(ascii: "\"") {
                // A quoted UTF-8 name (which holds no quote itself); the key sorts by what is inside.
                i += 1
                while i < n, key[i] != UInt8(ascii: "\"") { i += 1 }
                name = key[(nameStart + 1)..<i]
                i += 1
            } else {
                while i < n, key[i] != UInt8(ascii: "=") { i += 1 }
                name = key[nameStart..<i]
            }
            if name.elementsEqual(target) { return nil }
            if !name.lexicographicallyPrecedes(target) { return nameStart }
            // Skip `="value"`, minding escapes, and the comma after it.
            i += 2
            while i < n, key[i] != UInt8(ascii: "\"") { i += key[i] == UInt8(ascii: "\\") ? 2 : 1 }
            i += 2
        }
        return n
    }

    /// A family's name in `# HELP` and `# TYPE`, as ``nameEscaping`` writes it.
    private mutating func appendMetadataName(_ name: String) {
        guard let nameEscaping, nameEscaping == .dots || !NameRules.isLegacyMetricName(name.utf8) else {
            append(name)
            return
        }
        if nameEscaping == .allowUTF8 {
            NameRules.appendQuoted(name.utf8, to: &bytes)
        } else {
            bytes.append(contentsOf: NameRules.escape(Array(name.utf8), nameEscaping))
        }
    }

    /// A sample name with its suffix, escaped as a whole (`values` and `dots` escape the
    /// suffix's `_` too), remembered for the family's other lines.
    private mutating func appendEscapedName(_ name: [UInt8], _ suffix: StaticString, _ scheme: NameEscaping) {
        var full = name
        full.append(contentsOf: UnsafeBufferPointer(start: suffix.utf8Start, count: suffix.utf8CodeUnitCount))
        if let cached = escapedNames[full] {
            bytes.append(contentsOf: cached)
            return
        }
        let escaped = NameRules.escape(full, scheme)
        if escapedNames.count > 4096 { escapedNames.removeAll(keepingCapacity: true) }
        escapedNames[full] = escaped
        bytes.append(contentsOf: escaped)
    }

    /// A canonical key with every label name escaped by `scheme` (the values stay as they are).
    static func escapeNames(in key: [UInt8], _ scheme: NameEscaping) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(key.count + 8)
        var i = 0
        let n = key.count
        while i < n {
            let name: ArraySlice<UInt8>
            if key[i] == UInt8(ascii: "\"") {
                let start = i + 1
                i = start
                while i < n, key[i] != UInt8(ascii: "\"") { i += 1 }
                name = key[start..<i]
                i += 1
            } else {
                let start = i
                while i < n, key[i] != UInt8(ascii: "=") { i += 1 }
                name = key[start..<i]
            }
            out.append(contentsOf: NameRules.escape(Array(name), scheme, label: true))
            // `="value"` and the comma after it, minding escapes.
            let valueStart = i
            i += 2
            while i < n, key[i] != UInt8(ascii: "\"") { i += key[i] == UInt8(ascii: "\\") ? 2 : 1 }
            i = min(i + 2, n)
            out.append(contentsOf: key[valueStart..<i])
        }
        return out
    }

    private mutating func append(_ s: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    private mutating func append(_ s: String) {
        bytes.append(contentsOf: s.utf8)
    }
}

/// Number formatting for exposition output.
public enum NumberFormatting {
    /// Appends a value as the text formats write it: integers without a fraction,
    /// `NaN`, `+Inf`, `-Inf`, otherwise the shortest form that reads back exactly.
    public static func appendDouble(_ value: Double, to out: inout [UInt8]) {
        if value.isNaN {
            out.append(contentsOf: [0x4E, 0x61, 0x4E])
            return
        }  // NaN
        if value.isInfinite {
            out.append(contentsOf: value < 0 ? [0x2D, 0x49, 0x6E, 0x66] : [0x2B, 0x49, 0x6E, 0x66])  // -Inf / +Inf
            return
        }
        if value == value.rounded(.towardZero), abs(value) < 1e15 {
            if value == 0, value.sign == .minus {
                out.append(contentsOf: [0x2D, 0x30])
                return
            }
            appendInt(Int64(value), to: &out)
            return
        }
        out.append(contentsOf: value.description.utf8)
    }

    /// Appends a decimal integer.
    public static func appendInt(_ value: Int64, to out: inout [UInt8]) {
        if value == 0 {
            out.append(0x30)
            return
        }
        var magnitude = value.magnitude
        if value < 0 { out.append(UInt8(ascii: "-")) }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var k = 20
            while magnitude > 0 {
                k -= 1
                digits[k] = UInt8(truncatingIfNeeded: magnitude % 10) + 0x30
                magnitude /= 10
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: digits[k..<20]))
        }
    }
}
