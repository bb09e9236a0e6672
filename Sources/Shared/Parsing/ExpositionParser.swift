#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A byte-level parser for the Prometheus text format 0.0.4 and OpenMetrics 1.0 text.
///
/// It validates the whole body before returning, so a caller can apply the result
/// atomically. Series are keyed by their final label set (see ``LabelKey``), built once
/// while parsing by copying the escaped label bytes of the input.
public struct ExpositionParser {
    /// Parses a body. Throws the first problem found, with its line and column.
    public static func parse(
        _ body: UnsafeRawBufferPointer,
        format: ExpositionFormat = .text,
        grouping: GroupingKey = .empty,
        limits: ParseLimits = ParseLimits()
    ) throws(ExpositionError) -> ParsedPush {
        try parse(body, format: format, grouping: grouping, limits: limits, refusesNonFiniteAggregates: true)
    }

    static func parse(
        _ body: UnsafeRawBufferPointer, format: ExpositionFormat, grouping: GroupingKey, limits: ParseLimits,
        refusesNonFiniteAggregates: Bool
    ) throws(ExpositionError) -> ParsedPush {
        // Path labels are on every series, even of an empty push (which still makes a group).
        try checkGrouping(grouping, limits)
        guard let base = body.baseAddress, body.count > 0 else { return ParsedPush() }
        var parser = ExpositionParser(
            base: base.assumingMemoryBound(to: UInt8.self), count: body.count, format: format, grouping: grouping,
            limits: limits)
        parser.refusesNonFiniteAggregates = refusesNonFiniteAggregates
        return try parser.run()
    }

    public static func parse(
        _ body: [UInt8], format: ExpositionFormat = .text, grouping: GroupingKey = .empty, limits: ParseLimits = ParseLimits()
    ) throws(ExpositionError) -> ParsedPush {
        // `withUnsafeBytes` cannot forward a typed throw, so the error travels as a Result.
        let result = body.withUnsafeBytes { raw in
            Result { () throws(ExpositionError) -> ParsedPush in try parse(raw, format: format, grouping: grouping, limits: limits) }
        }
        return try result.get()
    }

    public static func parse(
        _ text: String, format: ExpositionFormat = .text, grouping: GroupingKey = .empty, limits: ParseLimits = ParseLimits()
    ) throws(ExpositionError) -> ParsedPush {
        try parse(Array(text.utf8), format: format, grouping: grouping, limits: limits)
    }

    /// Reads an exposition as a scraper does, for checks that what was rendered reads back:
    /// a scrape carries no clearmode, so the push rule that keeps NaN and infinities out of
    /// aggregated series does not apply.
    package static func parseScrape(
        _ body: [UInt8], format: ExpositionFormat = .text, limits: ParseLimits = ParseLimits()
    ) throws(ExpositionError) -> ParsedPush {
        let result = body.withUnsafeBytes { raw in
            Result { () throws(ExpositionError) -> ParsedPush in
                try parse(raw, format: format, grouping: .empty, limits: limits, refusesNonFiniteAggregates: false)
            }
        }
        return try result.get()
    }

    /// Path labels against the limits (their names and values are checked when the path is parsed).
    static func checkGrouping(_ grouping: GroupingKey, _ limits: ParseLimits) throws(ExpositionError) {
        let pairs = grouping.escapedPairs
        if pairs.count > limits.maxLabelsPerSeries {
            throw ExpositionError(
                .limitExceeded,
                "the path has \(pairs.count) labels, over the limit of \(limits.maxLabelsPerSeries) labels per series (\(ParseLimits.Flag.labelsPerSeries))",
                line: 0)
        }
        for pair in pairs {
            if pair.name.count > limits.maxLabelNameBytes {
                throw ExpositionError(
                    .limitExceeded,
                    "path label name \(ErrorText.token(String(decoding: pair.name, as: UTF8.self))) is \(pair.name.count) bytes, over the limit of \(limits.maxLabelNameBytes) (\(ParseLimits.Flag.labelNameBytes))",
                    line: 0)
            }
            if pair.value.count > limits.maxLabelValueBytes {
                throw ExpositionError(
                    .limitExceeded,
                    "the value of path label \(ErrorText.token(String(decoding: pair.name, as: UTF8.self))) is \(pair.value.count) bytes, over the limit of \(limits.maxLabelValueBytes) (\(ParseLimits.Flag.labelValueBytes))",
                    line: 0)
            }
        }
    }

    // MARK: - State

    /// The family a sample line belongs to, and which part of a series it is.
    enum Role { case value, bucket, sum, count, created, quantile }

    /// A declared type, including the OpenMetrics types that are stored as others.
    enum DeclaredType { case counter, gauge, histogram, gaugeHistogram, summary, untyped, info, stateset }

    struct Declaration {
        var type: DeclaredType?
        var help: String?
        var typeLine = 0
        var helpLine = 0
    }

    struct FamilyBuilder {
        var family: ParsedFamily
        /// Bytes of the family's name, counted on every line it writes.
        var nameBytes: Int
        /// What each histogram or summary series collects besides its value, by the series'
        /// index (a family holds scalars only, or histograms or summaries only).
        var instances: [Instance] = []
        /// The series instance still collecting lines, per key (histograms and summaries).
        var open: [LabelKey: Int] = [:]
    }

    struct Instance {
        /// Whether the series' mode came from a label (histogram and summary lines must agree).
        var explicitMode: Bool
        /// A histogram's `_count` line, checked against its `+Inf` bucket at the end.
        var count: Double? = nil
        /// The first line of a histogram or summary that gave a NaN or infinite count or sum:
        /// refused at the end if the series aggregates (its mode may come from a later line).
        var nonFiniteLine = 0
    }

    struct LabelSpan {
        var nameStart: Int, nameEnd: Int, valueStart: Int, valueEnd: Int
        /// A grouping label of the same name wins over this one, or the value is empty:
        /// either way the label is not part of the key.
        var overridden = false
        /// A UTF-8 name, written in quotes in the key (the span is the name between them).
        var quoted = false
    }

    let p: UnsafePointer<UInt8>
    let n: Int
    /// Byte classes: 1 = label name byte, 2 = metric name byte.
    let classes = byteClassTable.utf8Start
    let format: ExpositionFormat
    let grouping: [(name: [UInt8], value: [UInt8], quoted: Bool)]
    let limits: ParseLimits
    /// Whether a path label names a bound label, which the buckets or quantiles would repeat.
    let groupingHasLe: Bool
    let groupingHasQuantile: Bool
    /// Bytes the series written so far take as sample lines (see ``ParseLimits/maxExpandedBytes``).
    var expandedBytes = 0
    /// False when reading a scrape (``parseScrape(_:format:limits:)``).
    var refusesNonFiniteAggregates = true

    var line = 0
    var lineStart = 0
    var declarations: [String: Declaration] = [:]
    var builders: [FamilyBuilder] = []
    var familyIndex: [String: Int] = [:]
    var resolved: [String: (Int, Role)] = [:]
    var lastNameStart = -1
    var lastNameLength = 0
    var lastResolved: (Int, Role) = (0, .value)
    var labels: [LabelSpan] = []
    /// The histogram or summary series the previous line went to (family, series index).
    var lastInstance: (Int, Int)? = nil

    init(base: UnsafePointer<UInt8>, count: Int, format: ExpositionFormat, grouping: GroupingKey, limits: ParseLimits) {
        self.p = base
        self.n = count
        self.format = format
        self.grouping = grouping.escapedPairs
        self.limits = limits
        self.groupingHasLe = grouping.labels.contains { $0.name == "le" }
        self.groupingHasQuantile = grouping.labels.contains { $0.name == "quantile" }
        labels.reserveCapacity(8)
    }

    // MARK: - Lines

    mutating func run() throws(ExpositionError) -> ParsedPush {
        var position = 0
        var sawEOF = false
        while position < n {
            line += 1
            lineStart = position
            var end = position
            if let nl = memchr(p + position, 0x0A, n - position) {
                end = UnsafePointer<UInt8>(nl.assumingMemoryBound(to: UInt8.self)) - p
            } else {
                end = n
            }
            var lineEnd = end
            if lineEnd > position, p[lineEnd - 1] == 0x0D { lineEnd -= 1 }
            if sawEOF {
                var k = position
                while k < lineEnd, p[k] == 0x20 || p[k] == 0x09 { k += 1 }
                if k < lineEnd { throw error(.syntax, "content after # EOF", at: k) }
            } else {
                sawEOF = try parseLine(from: position, to: lineEnd)
            }
            position = end + 1
        }
        return try finish()
    }

    /// Parses one line; returns true for `# EOF`.
    mutating func parseLine(from start: Int, to end: Int) throws(ExpositionError) -> Bool {
        var i = start
        while i < end, p[i] == 0x20 || p[i] == 0x09 { i += 1 }
        if i == end { return false }
        if p[i] == UInt8(ascii: "#") { return try parseComment(from: i + 1, to: end) }
        try parseSample(from: i, to: end)
        return false
    }

    // MARK: - Comments and metadata

    mutating func parseComment(from start: Int, to end: Int) throws(ExpositionError) -> Bool {
        var i = start
        skipSpaces(&i, end)
        let keywordStart = i
        while i < end, p[i] != 0x20, p[i] != 0x09 { i += 1 }
        let keyword = String(decoding: UnsafeBufferPointer(start: p + keywordStart, count: i - keywordStart), as: UTF8.self)
        switch keyword {
        case "HELP", "TYPE", "UNIT":
            break
        case "EOF":
            skipSpaces(&i, end)
            return i == end
        default:
            return false  // A plain comment such as `# Service=myapp`.
        }
        skipSpaces(&i, end)
        let nameStart = i
        let name: String
        if i < end, p[i] == UInt8(ascii: "\"") {
            let quoted = try quotedName(from: i, to: end, .invalidName, "metric name")
            name = string(quoted.start, quoted.end)
            i = quoted.next
        } else {
            while i < end, isNameByte(p[i]) { i += 1 }
            guard i > nameStart, !isDigit(p[nameStart]) else {
                throw error(.invalidName, "\(ErrorText.token(keyword)) line needs a valid metric name", at: nameStart)
            }
            name = string(nameStart, i)
        }
        guard i == end || p[i] == 0x20 || p[i] == 0x09 else {
            throw error(.invalidName, "invalid character in metric name", at: i)
        }
        skipSpaces(&i, end)
        var declaration = declarations[name] ?? Declaration()
        switch keyword {
        case "TYPE":
            var typeEnd = end
            while typeEnd > i, p[typeEnd - 1] == 0x20 || p[typeEnd - 1] == 0x09 { typeEnd -= 1 }
            let typeName = string(i, typeEnd)
            guard declaration.type == nil else {
                throw error(
                    .metadata, "second TYPE line for \(ErrorText.token(name)) (the first is on line \(declaration.typeLine))", at: nameStart
                )
            }
            guard familyIndex[name] == nil else {
                throw error(.metadata, "TYPE line for \(ErrorText.token(name)) comes after its samples; put it before them", at: nameStart)
            }
            let type: DeclaredType
            switch typeName.lowercased() {
            case "counter": type = .counter
            case "gauge": type = .gauge
            case "histogram": type = .histogram
            case "gaugehistogram": type = .gaugeHistogram
            case "summary": type = .summary
            case "untyped", "unknown": type = .untyped
            case "info": type = .info
            case "stateset": type = .stateset
            default:
                throw error(
                    .metadata,
                    "unknown metric type \"\(ErrorText.token(typeName))\" for \(ErrorText.token(name)); use counter, gauge, histogram, summary or untyped",
                    at: i)
            }
            declaration.type = type
            declaration.typeLine = line
        case "HELP":
            guard declaration.help == nil else {
                throw error(
                    .metadata, "second HELP line for \(ErrorText.token(name)) (the first is on line \(declaration.helpLine))", at: nameStart
                )
            }
            guard UTF8Validation.isValid(p + i, end - i) else { throw error(.invalidUTF8, "HELP text is not valid UTF-8", at: i) }
            // A raw carriage return or escape sequence would reach every scraper and terminal
            // as it is, and the text format has no escape for them (tabs are harmless).
            if let k = firstControlByte(i, end) {
                throw error(
                    .metadata,
                    "HELP text of \(ErrorText.token(name)) contains the control byte \(ErrorText.token(p + k, 1)); only a newline can be written, as \\n",
                    at: k)
            }
            declaration.help = unescapeHelp(i, end)
            declaration.helpLine = line
            // A HELP line after the family's samples still describes it (exporters that
            // write metadata last exist; the Pushgateway accepts them).
            if let index = familyIndex[name] { builders[index].family.help = declaration.help }
        default:
            return false  // UNIT: not stored.
        }
        declarations[name] = declaration
        return false
    }

    func unescapeHelp(_ start: Int, _ end: Int) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(end - start)
        var i = start
        while i < end {
            if p[i] == UInt8(ascii: "\\"), i + 1 < end {
                switch p[i + 1] {
                case UInt8(ascii: "n"):
                    out.append(0x0A)
                    i += 2
                    continue
                case UInt8(ascii: "\\"):
                    out.append(0x5C)
                    i += 2
                    continue
                case UInt8(ascii: "\""):
                    out.append(0x22)
                    i += 2
                    continue
                default: break
                }
            }
            out.append(p[i])
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: - Samples

    mutating func parseSample(from start: Int, to end: Int) throws(ExpositionError) {
        var i = start
        if labels.capacity > 1024 { labels = [] }  // Do not keep a hostile line's span buffer for the rest.
        let index: Int
        let role: Role
        if p[start] == UInt8(ascii: "{") {
            // `{"my.metric","my.label"="v"} 1`: a UTF-8 name is the first item between the braces.
            i += 1
            skipSpaces(&i, end)
            guard i < end, p[i] == UInt8(ascii: "\"") else {
                throw error(.invalidName, "expected a quoted metric name after {", at: i)
            }
            let quoted = try quotedName(from: i, to: end, .invalidName, "metric name")
            (index, role) = try resolve(name: string(quoted.start, quoted.end), at: start)
            i = quoted.next
            skipSpaces(&i, end)
            labels.removeAll(keepingCapacity: true)
            if i < end, p[i] == UInt8(ascii: ",") {
                i = try parseLabels(from: i + 1, to: end)
            } else if i < end, p[i] == UInt8(ascii: "}") {
                i += 1
            } else {
                throw error(.invalidName, "expected , or } after the quoted metric name", at: i)
            }
            skipSpaces(&i, end)
        } else {
            while i < end, isNameByte(p[i]) { i += 1 }
            let nameEnd = i
            guard nameEnd > start, !isDigit(p[start]) else {
                throw error(.invalidName, "expected a metric name, a comment or a blank line", at: start)
            }
            (index, role) = try resolve(start, nameEnd)

            labels.removeAll(keepingCapacity: true)
            skipSpaces(&i, end)
            if i < end, p[i] == UInt8(ascii: "{") {
                i = try parseLabels(from: i + 1, to: end)
                skipSpaces(&i, end)
            } else if i == nameEnd, i < end {
                throw error(.invalidName, "invalid character in metric name", at: i)
            }
        }

        let valueStart = i
        while i < end, p[i] != 0x20, p[i] != 0x09 { i += 1 }
        guard i > valueStart else { throw error(.invalidValue, "missing value", at: valueStart) }
        guard let value = NumberParsing.parseDouble(p + valueStart, i - valueStart) else {
            throw error(.invalidValue, "invalid value \"\(token(valueStart, i))\"", at: valueStart)
        }
        skipSpaces(&i, end)
        var timestampMs: Int64? = nil
        if i < end, p[i] != UInt8(ascii: "#") {
            let tsStart = i
            while i < end, p[i] != 0x20, p[i] != 0x09 { i += 1 }
            timestampMs = try parseTimestamp(tsStart, i)
            skipSpaces(&i, end)
        }
        // What follows is an OpenMetrics exemplar (` # {...} value [ts]`): accepted, not kept.
        if i < end, !(p[i] == UInt8(ascii: "#")) {
            throw error(.syntax, "unexpected text after the value and timestamp", at: i)
        }
        if role == .created { return }
        try addSample(family: index, role: role, value: value, timestampMs: timestampMs, at: start)
    }

    func parseTimestamp(_ start: Int, _ end: Int) throws(ExpositionError) -> Int64 {
        switch format {
        case .text:
            guard let ms = NumberParsing.parseInt64(p + start, end - start) else {
                throw error(
                    .invalidTimestamp, "invalid timestamp \"\(token(start, end))\"; the text format takes integer milliseconds", at: start)
            }
            return ms
        case .openMetrics:
            guard let seconds = NumberParsing.parseDouble(p + start, end - start), seconds.isFinite,
                abs(seconds) < 9.2e15
            else {
                throw error(.invalidTimestamp, "invalid timestamp \"\(token(start, end))\"; OpenMetrics takes seconds", at: start)
            }
            return Int64((seconds * 1000).rounded())
        }
    }

    /// Parses `name="value",...}` starting after `{`; returns the index after `}`.
    mutating func parseLabels(from start: Int, to end: Int) throws(ExpositionError) -> Int {
        var i = start
        while true {
            skipSpaces(&i, end)
            guard i < end else { throw error(.invalidLabel, "label set is not closed with }", at: i) }
            if p[i] == UInt8(ascii: "}") { return i + 1 }
            var nameStart = i
            var nameEnd: Int
            var quotedName = false
            if p[i] == UInt8(ascii: "\"") {
                let quoted = try self.quotedName(from: i, to: end, .invalidLabel, "label name")
                (nameStart, nameEnd, i) = (quoted.start, quoted.end, quoted.next)
                quotedName = !NameRules.isLegacyLabelName(UnsafeBufferPointer(start: p + nameStart, count: nameEnd - nameStart))
            } else {
                while i < end, isLabelNameByte(p[i]) { i += 1 }
                guard i > nameStart, !isDigit(p[nameStart]) else {
                    throw error(.invalidLabel, "expected a label name", at: nameStart)
                }
                nameEnd = i
            }
            if nameEnd - nameStart >= 2, p[nameStart] == 0x5F, p[nameStart + 1] == 0x5F {
                throw error(.invalidLabel, "label names starting with __ are reserved: \(token(nameStart, nameEnd))", at: nameStart)
            }
            if nameEnd - nameStart > limits.maxLabelNameBytes {
                throw error(
                    .limitExceeded,
                    "label name \(token(nameStart, nameEnd)) is \(nameEnd - nameStart) bytes, over the limit of \(limits.maxLabelNameBytes) (\(ParseLimits.Flag.labelNameBytes))",
                    at: nameStart)
            }
            // Room for clearmode and le or quantile, which are not part of the series' labels.
            if labels.count >= limits.maxLabelsPerSeries + 2 {
                throw error(
                    .limitExceeded,
                    "a series has more than \(limits.maxLabelsPerSeries) labels, the limit per series (\(ParseLimits.Flag.labelsPerSeries))",
                    at: nameStart)
            }
            skipSpaces(&i, end)
            guard i < end, p[i] == UInt8(ascii: "=") else {
                throw error(.invalidLabel, "expected = after label name \(token(nameStart, nameEnd))", at: i)
            }
            i += 1
            skipSpaces(&i, end)
            guard i < end, p[i] == UInt8(ascii: "\"") else {
                throw error(.invalidLabel, "expected a quoted value for label \(token(nameStart, nameEnd))", at: i)
            }
            i += 1
            let valueStart = i
            var ascii = true
            // Skip eight plain bytes at a time: no quote, no backslash, no control byte, no byte ≥ 0x80.
            while i + 8 <= end {
                let word = UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self)
                if Self.hasSpecialByte(word) { break }
                i += 8
            }
            while i < end, p[i] != UInt8(ascii: "\"") {
                let c = p[i]
                if c == UInt8(ascii: "\\") {
                    guard i + 1 < end else { break }
                    let e = p[i + 1]
                    guard e == UInt8(ascii: "\\") || e == UInt8(ascii: "\"") || e == UInt8(ascii: "n") else {
                        throw error(
                            .invalidLabel,
                            "invalid escape sequence \\\(ErrorText.token(p + i + 1, 1)) in label value; use \\\\, \\\" or \\n", at: i)
                    }
                    i += 2
                    continue
                }
                if c >= 0x80 { ascii = false }
                // A raw carriage return (or any control byte) would be written to every scrape as it is.
                if (c < 0x20 && c != 0x09) || c == 0x7F {
                    throw error(
                        .invalidLabel,
                        "label value of \(token(nameStart, nameEnd)) contains the control byte \(ErrorText.token(p + i, 1)); only a newline can be written, as \\n",
                        at: i)
                }
                i += 1
            }
            guard i < end else {
                throw error(.invalidLabel, "label value of \(token(nameStart, nameEnd)) is not closed with \"", at: valueStart - 1)
            }
            let valueEnd = i
            if !ascii, !UTF8Validation.isValid(p + valueStart, valueEnd - valueStart) {
                throw error(.invalidUTF8, "label value of \(token(nameStart, nameEnd)) is not valid UTF-8", at: valueStart)
            }
            if valueEnd - valueStart > limits.maxLabelValueBytes {
                throw error(
                    .limitExceeded,
                    "the value of label \(token(nameStart, nameEnd)) is \(valueEnd - valueStart) bytes, over the limit of \(limits.maxLabelValueBytes) (\(ParseLimits.Flag.labelValueBytes))",
                    at: valueStart)
            }
            i += 1
            // Duplicate names are found after sorting, in buildKeyBytes. An empty value is
            // the same as no label (as Prometheus reads it): it takes part in the duplicate
            // check, and is left out of the key.
            labels.append(
                LabelSpan(
                    nameStart: nameStart, nameEnd: nameEnd, valueStart: valueStart, valueEnd: valueEnd,
                    overridden: valueEnd == valueStart, quoted: quotedName))
            skipSpaces(&i, end)
            guard i < end else { throw error(.invalidLabel, "label set is not closed with }", at: i) }
            if p[i] == UInt8(ascii: ",") {
                i += 1
            } else if p[i] != UInt8(ascii: "}") {
                throw error(.invalidLabel, "expected , or } after a label value", at: i)
            }
        }
    }

    /// Whether any byte of `word` is `"`, `\\`, a control byte or ≥ 0x80 (the SWAR
    /// zero-byte and less-than tests; a false positive only sends the bytes to the slow loop).
    @inline(__always) static func hasSpecialByte(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let quote = word ^ (ones &* 0x22)
        let backslash = word ^ (ones &* 0x5C)
        let delete = word ^ (ones &* 0x7F)
        let zeroInQuote = (quote &- ones) & ~quote & highs
        let zeroInBackslash = (backslash &- ones) & ~backslash & highs
        let zeroInDelete = (delete &- ones) & ~delete & highs
        let control = (word &- (ones &* 0x20)) & ~word & highs
        return (zeroInQuote | zeroInBackslash | zeroInDelete | control | (word & highs)) != 0
    }

    // MARK: - Families

    /// Finds the family a sample name belongs to, creating it on first use.
    mutating func resolve(_ start: Int, _ end: Int) throws(ExpositionError) -> (Int, Role) {
        let length = end - start
        if length == lastNameLength, lastNameStart >= 0, memcmp(p + start, p + lastNameStart, length) == 0 {
            return lastResolved
        }
        let name = string(start, end)
        let result: (Int, Role)
        if let cached = resolved[name] {
            result = cached
        } else {
            result = try resolveNew(name, at: start)
            resolved[name] = result
        }
        lastNameStart = start
        lastNameLength = length
        lastResolved = result
        return result
    }

    /// The same for a name read between quotes (a UTF-8 name, which has no span of its own to compare).
    mutating func resolve(name: String, at column: Int) throws(ExpositionError) -> (Int, Role) {
        lastNameStart = -1
        if let cached = resolved[name] { return cached }
        let result = try resolveNew(name, at: column)
        resolved[name] = result
        return result
    }

    /// Reads `"name"` from the opening quote: the name's bytes and the index after the closing quote.
    func quotedName(
        from start: Int, to end: Int, _ code: ExpositionError.Code, _ what: StaticString
    ) throws(ExpositionError) -> (start: Int, end: Int, next: Int) {
        guard limits.utf8Names else {
            throw error(code, "a quoted \(what) is a UTF-8 name; UTF-8 names need \(ParseLimits.Flag.utf8Names)", at: start)
        }
        let contentStart = start + 1
        var i = contentStart
        while i < end, p[i] != UInt8(ascii: "\""), p[i] != UInt8(ascii: "\\") { i += 1 }
        guard i < end, p[i] == UInt8(ascii: "\"") else {
            throw error(code, i < end ? "a \(what) cannot contain \\" : "\(what) is not closed with \"", at: i < end ? i : start)
        }
        let content = UnsafeBufferPointer(start: p + contentStart, count: i - contentStart)
        let problem =
            code == .invalidLabel ? NameRules.problem(withUTF8LabelName: content) : NameRules.problem(withUTF8Name: content)
        if let problem {
            throw error(code, "invalid \(what) \"\(token(contentStart, i))\": \(problem)", at: contentStart)
        }
        guard UTF8Validation.isValid(p + contentStart, i - contentStart) else {
            throw error(.invalidUTF8, "\(what) is not valid UTF-8", at: contentStart)
        }
        return (contentStart, i, i + 1)
    }

    mutating func resolveNew(_ name: String, at column: Int) throws(ExpositionError) -> (Int, Role) {
        if let declared = declarations[name], let type = declared.type {
            switch type {
            case .counter, .gauge, .untyped, .stateset:
                return (try family(name, type, declared.help, at: column), .value)
            case .summary:
                return (try family(name, type, declared.help, at: column), .quantile)
            case .histogram, .gaugeHistogram, .info:
                throw error(
                    .typeMismatch,
                    "\(ErrorText.token(name)) is declared as \(type) and takes samples named with a suffix such as _bucket, _sum, _count or _info",
                    at: column)
            }
        }
        let suffixes: [(String, Role)] = [
            ("_total", .value), ("_bucket", .bucket), ("_sum", .sum), ("_count", .count), ("_created", .created),
            ("_gsum", .sum), ("_gcount", .count), ("_info", .value),
        ]
        for (suffix, role) in suffixes where name.hasSuffix(suffix) {
            let base = String(name.dropLast(suffix.count))
            guard let declared = declarations[base], let type = declared.type else { continue }
            let fits: Bool
            switch (type, suffix) {
            case (.counter, "_total"), (.counter, "_created"): fits = true
            case (.histogram, "_bucket"), (.histogram, "_sum"), (.histogram, "_count"), (.histogram, "_created"): fits = true
            case (.gaugeHistogram, "_bucket"), (.gaugeHistogram, "_gsum"), (.gaugeHistogram, "_gcount"): fits = true
            case (.summary, "_sum"), (.summary, "_count"), (.summary, "_created"): fits = true
            case (.info, "_info"): fits = true
            default: fits = false
            }
            guard fits else { continue }
            // Counters keep their sample name (`foo_total`), as the text format 0.0.4 names them.
            let familyName: String
            switch type {
            case .counter: familyName = base + "_total"
            case .info: familyName = name
            default: familyName = base
            }
            return (try family(familyName, type, declared.help, at: column), role)
        }
        return (try family(name, .untyped, declarations[name]?.help, at: column), .value)
    }

    mutating func family(_ name: String, _ declared: DeclaredType, _ help: String?, at column: Int) throws(ExpositionError) -> Int {
        let type: MetricType
        switch declared {
        case .counter: type = .counter
        case .gauge, .info, .stateset: type = .gauge
        case .histogram: type = .histogram
        case .gaugeHistogram: type = .gaugeHistogram
        case .summary: type = .summary
        case .untyped: type = .untyped
        }
        if let index = familyIndex[name] {
            guard builders[index].family.type == type else {
                throw error(
                    .typeMismatch, "\(ErrorText.token(name)) is used as \(builders[index].family.type) and as \(type) in one push",
                    at: column)
            }
            return index
        }
        let index = builders.count
        builders.append(FamilyBuilder(family: ParsedFamily(name: name, type: type, help: help, line: line), nameBytes: name.utf8.count))
        familyIndex[name] = index
        return index
    }

    mutating func addSample(family index: Int, role: Role, value: Double, timestampMs: Int64?, at column: Int) throws(ExpositionError) {
        let type = builders[index].family.type
        // The label the renderer adds to every bucket or quantile line: a series of the
        // family must not carry it elsewhere, or the scrape repeats a label name.
        let boundName: StaticString? = type.isHistogram ? "le" : (type == .summary ? "quantile" : nil)
        if let boundName, type.isHistogram ? groupingHasLe : groupingHasQuantile {
            throw error(
                .invalidLabel,
                "the path label \(boundName) would repeat on every \(type.isHistogram ? "bucket" : "quantile") of \(type.textName) \(ErrorText.token(builders[index].family.name)); push it to a path without \(boundName)",
                at: column)
        }
        // Pull out the labels that steer rather than identify.
        var mode: ClearMode? = nil
        var bound: Double? = nil
        var k = 0
        while k < labels.count {
            let span = labels[k]
            let empty = span.valueEnd == span.valueStart
            if isLabel(span, "clearmode") {
                guard mode == nil else {
                    throw error(.duplicateLabel, "label clearmode appears twice", at: span.nameStart)
                }
                if !empty {
                    let text = string(span.valueStart, span.valueEnd)
                    guard let parsed = ClearMode(text) else {
                        throw error(
                            .invalidClearMode, "unknown clearmode \"\(ErrorText.token(text))\"; valid: \(ClearMode.validValuesDescription)",
                            at: span.valueStart)
                    }
                    mode = parsed
                }
                labels.swapAt(k, labels.count - 1)
                labels.removeLast()  // Order does not matter: the key sorts the labels.
                continue
            }
            if let boundName, isLabel(span, boundName) {
                guard role == .bucket || role == .quantile else {
                    if empty {
                        k += 1  // The same as no label; left out of the key.
                        continue
                    }
                    throw error(
                        .invalidLabel,
                        "\(boundName) is the label of the \(type.isHistogram ? "buckets" : "quantiles") of \(type.textName) \(ErrorText.token(builders[index].family.name)); its _sum and _count lines cannot carry it",
                        at: span.nameStart)
                }
                guard bound == nil else {
                    throw error(.duplicateLabel, "label \(boundName) appears twice", at: span.nameStart)
                }
                if !empty {
                    guard let b = NumberParsing.parseDouble(p + span.valueStart, span.valueEnd - span.valueStart), !b.isNaN else {
                        throw error(
                            .invalidLabel, "\(boundName) must be a number, got \"\(token(span.valueStart, span.valueEnd))\"",
                            at: span.valueStart)
                    }
                    bound = b
                }
                labels.swapAt(k, labels.count - 1)
                labels.removeLast()
                continue
            }
            k += 1
        }
        if timestampMs != nil, !(mode?.isPebble ?? false) {
            // As the Pushgateway: a pushed sample's time is its push, and Prometheus would
            // otherwise see a stale timestamp long after the push.
            throw error(
                .invalidTimestamp,
                "samples with timestamps are refused, except on pebble series (clearmode=\"mean5m\" and the like) where they are the observation time; remove the timestamp",
                at: column)
        }
        if let mode, case .pebble = mode, type != .gauge, type != .untyped {
            throw error(
                .invalidClearMode,
                "pebble clearmode \(mode) needs a gauge; declare the family with # TYPE \(ErrorText.token(builders[index].family.name)) gauge",
                at: column)
        }
        // Values that are added up must be numbers: a NaN or an infinity added once stays forever.
        let finite = value.isFinite
        if !finite, refusesNonFiniteAggregates, role == .value, (mode ?? type.defaultClearMode) == .aggregate {
            throw error(
                .invalidValue,
                "\(type.textName) \(ErrorText.token(builders[index].family.name)) has the value \(Self.exposed(value)), which cannot be aggregated (it would stay forever); push a gauge or set clearmode=\"replace\"",
                at: column)
        }
        let keyBytes = try buildKeyBytes()
        let key: LabelKey
        // Consecutive lines of one histogram or summary share their key: reuse it rather
        // than hashing it again.
        if role != .value, let (f, s) = lastInstance, f == index, builders[f].family.series[s].key.hasBytes(keyBytes) {
            key = builders[f].family.series[s].key
        } else {
            key = LabelKey(bytes: keyBytes)
        }
        // What this line takes once written out: its name and labels (the value is bounded).
        expandedBytes &+= keyBytes.count &+ builders[index].nameBytes &+ 32
        if expandedBytes > limits.maxExpandedBytes {
            throw error(
                .tooLarge,
                "the series of this push would take more than \(limits.maxExpandedBytes) bytes written out (\(ParseLimits.Flag.expandedBytes)); "
                    + "send fewer series per push or shorter path labels",
                at: column)
        }
        let line = self.line

        switch role {
        case .value:
            if type == .counter, value < 0 {
                throw error(
                    .negativeCounter, "counter \(ErrorText.token(builders[index].family.name)) has a negative value \(value)", at: column)
            }
            builders[index].family.series.append(
                ParsedSeries(
                    key: key, mode: mode ?? type.defaultClearMode, value: .scalar(value), timestampMs: timestampMs, line: line))
        case .bucket:
            guard let bound else {
                throw error(.invalidHistogram, "bucket of \(ErrorText.token(builders[index].family.name)) has no le label", at: column)
            }
            guard value >= 0 else { throw error(.invalidHistogram, "bucket count must be a number ≥ 0, got \(value)", at: column) }
            // Buckets of one instance are in strictly ascending order (a line that is not
            // starts a new instance), so only the last one needs a look.
            let s = try instance(index, key, mode, type, at: column) { series, count in
                guard case .histogram(let h) = series.value else { return true }
                return h.sum != nil || count != nil || (h.buckets.last.map { $0.upperBound >= bound } ?? false)
            }
            if case .histogram(let h) = builders[index].family.series[s].value, h.buckets.count >= limits.maxBuckets {
                throw error(
                    .limitExceeded,
                    "histogram \(ErrorText.token(builders[index].family.name)) has more than \(limits.maxBuckets) buckets, the limit (\(ParseLimits.Flag.buckets))",
                    at: column)
            }
            if !finite { markNonFinite(index, s) }
            builders[index].family.series[s].value.appendBucket(Bucket(upperBound: bound, count: value))
        case .sum:
            let s = try instance(index, key, mode, type, at: column) { series, _ in
                switch series.value {
                case .histogram(let h): h.sum != nil
                case .summary(let q): q.sum != nil
                case .scalar, .window, .observations, .nativeHistogram: true
                }
            }
            if !finite { markNonFinite(index, s) }
            builders[index].family.series[s].value.setSum(value)
        case .count:
            guard value >= 0 else { throw error(.invalidHistogram, "count must be a number ≥ 0, got \(value)", at: column) }
            let s = try instance(index, key, mode, type, at: column) { series, count in
                if case .summary(let q) = series.value { return q.count != nil }
                return count != nil
            }
            if !finite { markNonFinite(index, s) }
            if type == .summary {
                builders[index].family.series[s].value.setSummaryCount(value)
            } else {
                builders[index].instances[s].count = value
            }
        case .quantile:
            guard let bound else {
                throw error(
                    .invalidSummary, "sample of summary \(ErrorText.token(builders[index].family.name)) has no quantile label", at: column)
            }
            let s = try instance(index, key, mode, type, at: column) { series, _ in
                guard case .summary(let q) = series.value else { return true }
                return q.sum != nil || q.count != nil || (q.quantiles.last.map { $0.quantile >= bound } ?? false)
            }
            if case .summary(let q) = builders[index].family.series[s].value, q.quantiles.count >= limits.maxQuantiles {
                throw error(
                    .limitExceeded,
                    "summary \(ErrorText.token(builders[index].family.name)) has more than \(limits.maxQuantiles) quantiles, the limit (\(ParseLimits.Flag.quantiles))",
                    at: column)
            }
            // Quantile values are replaced on every push, never added: NaN is what clients
            // send for a quantile without observations.
            builders[index].family.series[s].value.appendQuantile(Quantile(quantile: bound, value: value))
        case .created:
            break
        }
    }

    mutating func markNonFinite(_ index: Int, _ s: Int) {
        if builders[index].instances[s].nonFiniteLine == 0 { builders[index].instances[s].nonFiniteLine = line }
    }

    /// The histogram or summary instance a line adds to: the open one for `key`, or a new
    /// one when the line cannot belong to it (a repeated series in one body).
    ///
    /// Clients write buckets (or quantiles) in ascending order, then `_sum` and `_count` in
    /// either order, so a line starts a new instance when the open one already has its
    /// part or a part that comes after it.
    mutating func instance(
        _ index: Int, _ key: LabelKey, _ mode: ClearMode?, _ type: MetricType, at column: Int,
        startsNew: (ParsedSeries, _ count: Double?) -> Bool
    ) throws(ExpositionError) -> Int {
        if let open = builders[index].open[key],
            !startsNew(builders[index].family.series[open], builders[index].instances[open].count)
        {
            lastInstance = (index, open)
            if let mode {
                if builders[index].instances[open].explicitMode {
                    guard builders[index].family.series[open].mode == mode else {
                        throw error(
                            .invalidClearMode,
                            "lines of one series of \(ErrorText.token(builders[index].family.name)) disagree on clearmode", at: column)
                    }
                } else {
                    builders[index].family.series[open].mode = mode
                    builders[index].instances[open].explicitMode = true
                }
            }
            return open
        }
        let empty: SeriesValue =
            type == .summary
            ? .summary(SummaryValue(quantiles: [], sum: nil, count: nil))
            : .histogram(HistogramValue(buckets: [], sum: nil))
        let s = builders[index].family.series.count
        builders[index].family.series.append(ParsedSeries(key: key, mode: mode ?? type.defaultClearMode, value: empty, line: line))
        builders[index].instances.append(Instance(explicitMode: mode != nil))
        builders[index].open[key] = s
        lastInstance = (index, s)
        return s
    }

    /// Builds the canonical key of the current sample in one exact-size allocation: body
    /// labels and grouping labels, sorted by name, grouping labels winning.
    mutating func buildKeyBytes() throws(ExpositionError) -> [UInt8] {
        let p = self.p
        let grouping = self.grouping
        // Work on the span buffer directly: no uniqueness or bounds checks per access.
        let sorted = labels.withUnsafeMutableBufferPointer { spans -> (duplicate: Int?, length: Int, pairs: Int) in
            let count = spans.count
            @inline(__always) func cmp(_ a: LabelSpan, _ b: LabelSpan) -> Int {
                ExpositionParser.compare(p + a.nameStart, a.nameEnd - a.nameStart, p + b.nameStart, b.nameEnd - b.nameStart)
            }
            // Insertion sort for the usual small, nearly sorted label sets; a library sort
            // (n log n) for long ones, where insertion would be quadratic.
            if count > 16 {
                spans.sort { cmp($0, $1) < 0 }
            }
            var a = 1
            while count <= 16, a < count {
                let item = spans[a]
                if cmp(spans[a - 1], item) > 0 {
                    var b = a
                    while b > 0, cmp(spans[b - 1], item) > 0 {
                        spans[b] = spans[b - 1]
                        b -= 1
                    }
                    spans[b] = item
                }
                a += 1
            }
            var length = 0, pairs = 0, g = 0
            for k in 0..<count {
                if k > 0, cmp(spans[k - 1], spans[k]) == 0 { return (k, 0, 0) }
                let span = spans[k]
                let ls = span.nameEnd - span.nameStart
                var c = -1
                while g < grouping.count {
                    c = grouping[g].name.withUnsafeBufferPointer {
                        ExpositionParser.compare($0.baseAddress!, $0.count, p + span.nameStart, ls)
                    }
                    if c >= 0 { break }
                    g += 1
                }
                if g < grouping.count && c == 0 { spans[k].overridden = true }
                if !spans[k].overridden {
                    length += ls + (span.valueEnd - span.valueStart) + (span.quoted ? 5 : 3)
                    pairs += 1
                }
            }
            return (nil, length, pairs)
        }
        if let duplicate = sorted.duplicate {
            let span = labels[duplicate]
            throw error(.duplicateLabel, "label \(token(span.nameStart, span.nameEnd)) appears twice", at: span.nameStart)
        }
        if limits.utf8Names, labels.contains(where: \.quoted) || grouping.contains(where: \.quoted) {
            try checkEscapedLabelNames()
        }
        var length = sorted.length
        var pairs = sorted.pairs
        for pair in grouping {
            length += pair.name.count + pair.value.count + (pair.quoted ? 5 : 3)
            pairs += 1
        }
        if pairs > limits.maxLabelsPerSeries {
            throw error(
                .limitExceeded,
                "a series has \(pairs) labels with the path labels, over the limit of \(limits.maxLabelsPerSeries) (\(ParseLimits.Flag.labelsPerSeries))",
                at: lineStart)
        }
        if pairs > 1 { length += pairs - 1 }
        let labels = self.labels
        // Plain loops over raw pointers: nested functions capturing the cursor would cost a
        // dynamic exclusivity check per write.
        return [UInt8](unsafeUninitializedCapacity: length) { out, count in
            let start = out.baseAddress!
            var o = start
            var g = 0
            var k = 0
            while k < labels.count || g < grouping.count {
                var useGrouping: Bool
                if k == labels.count {
                    useGrouping = true
                } else if labels[k].overridden {
                    k += 1
                    continue
                } else if g == grouping.count {
                    useGrouping = false
                } else {
                    let span = labels[k]
                    let ls = span.nameEnd - span.nameStart
                    useGrouping = grouping[g].name.withUnsafeBufferPointer { n in
                        ExpositionParser.compare(n.baseAddress!, n.count, p + span.nameStart, ls) < 0
                    }
                }
                if o != start {
                    o.pointee = UInt8(ascii: ",")
                    o += 1
                }
                if useGrouping {
                    let quoted = grouping[g].quoted
                    if quoted {
                        o.pointee = UInt8(ascii: "\"")
                        o += 1
                    }
                    for b in grouping[g].name {
                        o.pointee = b
                        o += 1
                    }
                    if quoted {
                        o.pointee = UInt8(ascii: "\"")
                        o += 1
                    }
                    o[0] = UInt8(ascii: "=")
                    o[1] = UInt8(ascii: "\"")
                    o += 2
                    for b in grouping[g].value {
                        o.pointee = b
                        o += 1
                    }
                    g += 1
                } else {
                    let span = labels[k]
                    if span.quoted {
                        o.pointee = UInt8(ascii: "\"")
                        o += 1
                    }
                    o.update(from: p + span.nameStart, count: span.nameEnd - span.nameStart)
                    o += span.nameEnd - span.nameStart
                    if span.quoted {
                        o.pointee = UInt8(ascii: "\"")
                        o += 1
                    }
                    o[0] = UInt8(ascii: "=")
                    o[1] = UInt8(ascii: "\"")
                    o += 2
                    o.update(from: p + span.valueStart, count: span.valueEnd - span.valueStart)
                    o += span.valueEnd - span.valueStart
                    k += 1
                }
                o.pointee = UInt8(ascii: "\"")
                o += 1
            }
            count = o - start
        }
    }

    /// A series' label names must stay distinct in a scrape that escapes them (`a.b` and
    /// `a_b` are both `a_b` with underscores, Prometheus's default), or it repeats a label.
    func checkEscapedLabelNames() throws(ExpositionError) {
        var seen: [[UInt8]: [UInt8]] = [:]
        let names =
            labels.filter { !$0.overridden }.map { Array(UnsafeBufferPointer(start: p + $0.nameStart, count: $0.nameEnd - $0.nameStart)) }
            + grouping.map(\.name)
        for name in names {
            let escaped = NameRules.escape(name, .underscores, label: true)
            if let other = seen[escaped], other != name {
                throw error(
                    .duplicateLabel,
                    "labels \"\(String(decoding: other, as: UTF8.self))\" and \"\(String(decoding: name, as: UTF8.self))\" would both be \(String(decoding: escaped, as: UTF8.self)) to a scraper without UTF-8 names; rename one",
                    at: lineStart)
            }
            seen[escaped] = name
        }
    }

    // MARK: - Validation of assembled series

    mutating func finish() throws(ExpositionError) -> ParsedPush {
        var families: [ParsedFamily] = []
        families.reserveCapacity(builders.count)
        for var builder in builders {
            let type = builder.family.type
            if type.isHistogram {
                for s in builder.family.series.indices {
                    try validateHistogram(&builder, s)
                }
            }
            for (s, instance) in builder.instances.enumerated() where instance.nonFiniteLine != 0 && refusesNonFiniteAggregates {
                let series = builder.family.series[s]
                guard series.mode == .aggregate else { continue }
                throw ExpositionError(
                    .invalidValue,
                    "\(type.textName) \(ErrorText.token(builder.family.name + series.key.description)) has a NaN or infinite count or sum, which cannot be aggregated (it would stay forever); set clearmode=\"replace\" or push finite numbers",
                    line: instance.nonFiniteLine)
            }
            // Pebble series are exposed as gauges: an untyped family that holds one becomes a gauge.
            if type == .untyped, builder.family.series.contains(where: { $0.mode.isPebble }) {
                builder.family.type = .gauge
            }
            // A family whose only lines were `_created` has nothing to store.
            if !builder.family.series.isEmpty { families.append(builder.family) }
        }
        return ParsedPush(families: families)
    }

    func validateHistogram(_ builder: inout FamilyBuilder, _ s: Int) throws(ExpositionError) {
        let series = builder.family.series[s]
        guard case .histogram(var h) = series.value else { return }
        let name = ErrorText.token(builder.family.name + series.key.description)
        // Buckets are in strictly ascending order already: `addSample` starts a new
        // instance at any bucket that is not above the last one.
        let count = builder.instances[s].count
        if h.buckets.last?.upperBound != .infinity {
            guard let count else {
                throw ExpositionError(.invalidHistogram, "histogram \(name) has no +Inf bucket and no _count", line: series.line)
            }
            guard h.buckets.count < limits.maxBuckets else {
                throw ExpositionError(
                    .limitExceeded,
                    "histogram \(name) has more than \(limits.maxBuckets) buckets with its +Inf bucket, the limit (\(ParseLimits.Flag.buckets))",
                    line: series.line)
            }
            h.buckets.append(Bucket(upperBound: .infinity, count: count))
        }
        var previous = 0.0
        for bucket in h.buckets {
            guard bucket.count >= previous else {
                throw ExpositionError(
                    .invalidHistogram,
                    "histogram \(name) is not cumulative: bucket le=\"\(bucket.upperBound)\" has \(bucket.count) after \(previous)",
                    line: series.line)
            }
            previous = bucket.count
        }
        if let count, count != h.count {
            throw ExpositionError(
                .invalidHistogram, "histogram \(name) has _count \(count) but its +Inf bucket is \(h.count)", line: series.line)
        }
        builder.family.series[s].value = .histogram(h)
    }

    // MARK: - Bytes

    @inline(__always) func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

    @inline(__always) func isLabelNameByte(_ c: UInt8) -> Bool { (classes[Int(c)] &- 0x30) & 1 != 0 }

    @inline(__always) func isNameByte(_ c: UInt8) -> Bool { (classes[Int(c)] &- 0x30) & 2 != 0 }

    @inline(__always) func skipSpaces(_ i: inout Int, _ end: Int) {
        while i < end, p[i] == 0x20 || p[i] == 0x09 { i += 1 }
    }

    func string(_ start: Int, _ end: Int) -> String {
        String(decoding: UnsafeBufferPointer(start: p + start, count: end - start), as: UTF8.self)
    }

    /// A value as the text format writes it (`NaN`, `+Inf`).
    static func exposed(_ value: Double) -> String {
        var out: [UInt8] = []
        NumberFormatting.appendDouble(value, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Input bytes as an error message shows them (cut, control bytes escaped).
    func token(_ start: Int, _ end: Int) -> String {
        ErrorText.token(p + start, end - start)
    }

    /// The first byte in `start..<end` that is a control byte other than tab, or DEL.
    func firstControlByte(_ start: Int, _ end: Int) -> Int? {
        var k = start
        while k < end {
            let c = p[k]
            if (c < 0x20 && c != 0x09) || c == 0x7F { return k }
            k += 1
        }
        return nil
    }

    func isLabel(_ span: LabelSpan, _ name: StaticString) -> Bool {
        span.nameEnd - span.nameStart == name.utf8CodeUnitCount
            && memcmp(p + span.nameStart, name.utf8Start, name.utf8CodeUnitCount) == 0
    }

    /// Byte-wise comparison of short names: they usually differ in the first byte, where a
    /// loop answers before a call to memcmp would have started.
    @inline(__always) static func compare(_ a: UnsafePointer<UInt8>, _ la: Int, _ b: UnsafePointer<UInt8>, _ lb: Int) -> Int {
        let n = min(la, lb)
        var i = 0
        while i < n {
            if a[i] != b[i] { return Int(a[i]) - Int(b[i]) }
            i += 1
        }
        return la - lb
    }

    @inline(__always) func compareNames(_ a: LabelSpan, _ b: LabelSpan) -> Int {
        Self.compare(p + a.nameStart, a.nameEnd - a.nameStart, p + b.nameStart, b.nameEnd - b.nameStart)
    }

    @inline(__always) func compareName(_ name: [UInt8], _ span: LabelSpan) -> Int {
        name.withUnsafeBufferPointer { Self.compare($0.baseAddress!, $0.count, p + span.nameStart, span.nameEnd - span.nameStart) }
    }

    func error(_ code: ExpositionError.Code, _ message: String, at position: Int) -> ExpositionError {
        ExpositionError(code, message, line: line, column: max(1, position - lineStart + 1))
    }
}

/// Byte classes of ``ExpositionParser`` as ASCII digits, one per byte value (static memory):
/// bit 1 = label name byte `[a-zA-Z0-9_]`, bit 2 = metric name byte (also `:`).
let byteClassTable: StaticString = """
    0000000000000000000000000000000000000000000000003333333333200000\
    0333333333333333333333333330000303333333333333333333333333300000\
    0000000000000000000000000000000000000000000000000000000000000000\
    0000000000000000000000000000000000000000000000000000000000000000
    """

extension SeriesValue {
    mutating func appendBucket(_ bucket: Bucket) {
        guard case .histogram(var h) = self else { return }
        self = .scalar(0)  // Release the reference so the append does not copy.
        h.buckets.append(bucket)
        self = .histogram(h)
    }

    mutating func appendQuantile(_ quantile: Quantile) {
        guard case .summary(var q) = self else { return }
        self = .scalar(0)
        q.quantiles.append(quantile)
        self = .summary(q)
    }

    mutating func setSum(_ sum: Double) {
        switch self {
        case .histogram(var h):
            h.sum = sum
            self = .histogram(h)
        case .summary(var q):
            q.sum = sum
            self = .summary(q)
        case .scalar, .window, .observations, .nativeHistogram: break
        }
    }

    mutating func setSummaryCount(_ count: Double) {
        guard case .summary(var q) = self else { return }
        q.count = count
        self = .summary(q)
    }
}
