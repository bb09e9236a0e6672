/// What a scrape renders into: the text formats (``ExpositionWriter``) or delimited
/// protobuf (``ProtobufWriter``). The scrape walks families and series once, in order, and
/// the writer decides the bytes.
public protocol ScrapeWriter {
    /// Finished output not yet taken.
    var bytes: [UInt8] { get }
    var contentType: String { get }
    /// Write `instance=""` on every series without an `instance` label, as the Pushgateway does.
    var addsEmptyInstance: Bool { get set }
    /// How names outside the legacy character set are written (`nil`: as they are).
    var nameEscaping: NameEscaping? { get }
    /// The name sample lines use for a family's values, and the name its metadata uses.
    func names(family name: String, type: MetricType) -> (sample: [UInt8], metadata: String)
    /// Starts a family.
    mutating func writeHeader(metadataName: String, type: MetricType, help: String?)
    /// Writes one series of the current family.
    mutating func writeSeries(
        name: [UInt8], type: MetricType, key: LabelKey, value: SeriesValue, extraLabel: [UInt8]?, timestampMs: Int64?)
    /// What this format shows of a value, `nil` for nothing (a native-only histogram in text).
    func shows(_ value: SeriesValue) -> SeriesValue?
    /// Ends the exposition.
    mutating func finish()
    /// Hands over the finished output and starts empty again, keeping the capacity.
    mutating func takeBytes() -> [UInt8]
}

extension ScrapeWriter {
    /// The names and the declared type of a family in a scrape that also holds the families
    /// `isFamily` answers true for.
    ///
    /// OpenMetrics declares a counter `foo_total` as `foo`, which may be another family's name
    /// (Go's runtime metrics pair a gauge `foo` with a counter `foo_total`). A scrape must
    /// declare each name once, so such a counter is declared `unknown` under its own name:
    /// the samples stay the same, only the counter type is not announced.
    public func header(
        family name: String, type: MetricType, isFamily: (String) -> Bool
    ) -> (sample: [UInt8], metadata: String, type: MetricType) {
        let names = names(family: name, type: type)
        if names.metadata != name, isFamily(names.metadata) {
            return (Array(name.utf8), name, .untyped)
        }
        return (names.sample, names.metadata, type)
    }

    /// The family names of a scrape as this writer writes them, when it escapes names
    /// (`nil` otherwise): two families whose names escape alike are one name to the scraper,
    /// so ``header(family:type:isFamily:)`` must ask about the escaped names.
    public func escapedNames(of families: some Sequence<String>) -> Set<String>? {
        guard let nameEscaping, nameEscaping != .allowUTF8 else { return nil }
        return Set(families.map { Self.escaped($0, nameEscaping) })
    }

    /// Whether `name` is a family of the scrape: `escapedNames` (from ``escapedNames(of:)``)
    /// when the writer escapes names, else `isFamily`.
    public func isFamily(_ name: String, escapedNames: Set<String>?, _ isFamily: (String) -> Bool) -> Bool {
        guard let escapedNames, let nameEscaping else { return isFamily(name) }
        return escapedNames.contains(Self.escaped(name, nameEscaping))
    }

    static func escaped(_ name: String, _ scheme: NameEscaping) -> String {
        String(decoding: NameRules.escape(Array(name.utf8), scheme), as: UTF8.self)
    }

    public mutating func writeSeries(name: [UInt8], type: MetricType, key: LabelKey, value: SeriesValue) {
        writeSeries(name: name, type: type, key: key, value: value, extraLabel: nil, timestampMs: nil)
    }
}

extension ExpositionWriter: ScrapeWriter {
    /// Text formats have no native histograms: a series shows its classic buckets when
    /// the push had them, and nothing otherwise (so a native-only family is left out).
    public func shows(_ value: SeriesValue) -> SeriesValue? {
        guard case .nativeHistogram(_, let classic) = value else { return value }
        return classic.map(SeriesValue.histogram)
    }
}
