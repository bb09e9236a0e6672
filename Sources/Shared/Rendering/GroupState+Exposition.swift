extension GroupState {
    /// Renders the group's families sorted by name and series by key.
    ///
    /// - Parameter clearModes: write each series' merge rule as a `clearmode` label, so
    ///   that pushing the output downstream applies the same rules again (the extension's
    ///   flush). Families replaced by a `family` push carry `clearmode="family"` on every
    ///   series but pebble ones, whose observations keep their own mode.
    ///   Pebble windows show their aggregate at `nowMs`; a family with nothing to show is skipped.
    public mutating func render(into writer: inout ExpositionWriter, clearModes: Bool = false, nowMs: Int64) {
        renderFamilies(into: &writer, clearModes: clearModes, nowMs: nowMs)
    }

    /// The same in delimited protobuf (a batch that holds native histograms).
    public mutating func render(into writer: inout ProtobufWriter, clearModes: Bool = false, nowMs: Int64) {
        renderFamilies(into: &writer, clearModes: clearModes, nowMs: nowMs)
    }

    // Concrete entry points above: callers in other modules get a version specialized for
    // their writer instead of dispatching through the protocol for every series.
    mutating func renderFamilies<W: ScrapeWriter>(into writer: inout W, clearModes: Bool, nowMs: Int64) {
        let escapedNames = writer.escapedNames(of: families.keys)
        for name in families.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            var family = families.removeValue(forKey: name)!
            defer { families[name] = family }
            let keys = family.sortedKeys()
            let shown = keys.compactMap { key -> (LabelKey, SeriesValue, ClearMode)? in
                let series = family.series[key]!
                guard let value = series.value.exposed(atMs: nowMs) else { return nil }
                if case .nativeHistogram = value { return writer.shows(value).map { (key, $0, series.mode) } }
                return (key, value, series.mode)
            }
            guard !shown.isEmpty else { continue }
            let names = writer.header(family: name, type: family.type) { other in
                writer.isFamily(other, escapedNames: escapedNames) { families[$0] != nil }
            }
            writer.writeHeader(metadataName: names.metadata, type: names.type, help: family.help)
            for (key, value, seriesMode) in shown {
                var extra: [UInt8]? = nil
                if clearModes {
                    let mode: ClearMode = family.replaced && !seriesMode.isPebble ? .family : seriesMode
                    extra = Array("clearmode=\"\(mode)\"".utf8)
                }
                writer.writeSeries(name: names.sample, type: names.type, key: key, value: value, extraLabel: extra, timestampMs: nil)
            }
        }
    }
}
