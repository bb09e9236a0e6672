extension ProtobufExposition {
    /// The native histograms of one protobuf body, by the text line their series starts on.
    ///
    /// ``ExpositionParser`` records each series' first line, which is how a parsed series
    /// finds its native part again without the parser knowing about native histograms.
    struct NativeSideTable {
        private var histograms: [Int: (histogram: NativeHistogram, hasClassic: Bool)] = [:]
        /// Newlines counted in the text so far, so the whole text is scanned once.
        private var scanned = 0
        private var nextLine = 1

        /// Checks a metric's native fields and remembers them for the line about to be written.
        mutating func record(_ metric: Metric, family: String, startingAt text: [UInt8]) throws(ExpositionError) {
            text.withUnsafeBufferPointer { bytes in
                while scanned < bytes.count {
                    if bytes[scanned] == 0x0A { nextLine += 1 }
                    scanned += 1
                }
            }
            let histogram = try metric.native.histogram(
                name: family, count: metric.count ?? 0, countIsFloat: metric.countIsFloat, sum: metric.sum ?? 0)
            histograms[nextLine] = (histogram, !metric.buckets.isEmpty)
        }

        /// Turns the parsed series that carry native data into ``SeriesValue/nativeHistogram(_:classic:)``.
        func attach(to push: inout ParsedPush) {
            guard !histograms.isEmpty else { return }
            for f in push.families.indices where push.families[f].type.isHistogram {
                for s in push.families[f].series.indices {
                    let series = push.families[f].series[s]
                    guard let native = histograms[series.line], case .histogram(let classic) = series.value else { continue }
                    push.families[f].series[s].value = .nativeHistogram(native.histogram, classic: native.hasClassic ? classic : nil)
                }
            }
        }
    }
}
