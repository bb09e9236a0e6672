import Shared

extension MetricStore.Snapshot {
    /// Whether any stored series is a native histogram: only then is a protobuf scrape
    /// worth its larger output.
    var holdsNativeHistograms: Bool {
        groups.values.contains { $0.state.holdsNativeHistograms }
    }
}
