extension GroupState {
    /// Renders the group's families sorted by name and series by key.
    ///
    /// - Parameter clearModes: write each series' merge rule as a `clearmode` label, so
    ///   that pushing the output downstream applies the same rules again (the extension's
    ///   flush). Families replaced by a `family` push carry `clearmode="family"` on every
    ///   series but pebble ones, whose observations keep their own mode.
    ///   Pebble windows show their aggregate at `nowMs`; a family with nothing to show is skipped.
    public mutating func render(into writer: inout ExpositionWriter, clearModes: Bool = false, nowMs: Int64) {
        for name in families.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            var family = families.removeValue(forKey: name)!
            defer { families[name] = family }
            let keys = family.sortedKeys()
            let shown = keys.compactMap { key -> (LabelKey, SeriesValue, ClearMode)? in
                let series = family.series[key]!
                return series.value.exposed(atMs: nowMs).map { (key, $0, series.mode) }
            }
            guard !shown.isEmpty else { continue }
            let names = writer.header(family: name, type: family.type) { families[$0] != nil }
            writer.writeHeader(metadataName: names.metadata, type: names.type, help: family.help)
            for (key, value, seriesMode) in shown {
                var extra: [UInt8]? = nil
                if clearModes {
                    let mode: ClearMode = family.replaced && !seriesMode.isPebble ? .family : seriesMode
                    extra = Array("clearmode=\"\(mode)\"".utf8)
                }
                writer.writeSeries(name: names.sample, type: names.type, key: key, value: value, extraLabel: extra)
            }
        }
    }
}
