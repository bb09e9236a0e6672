import Shared

extension MetricStore.Snapshot {
    /// Whether any stored series is a native histogram: only then is a protobuf scrape
    /// worth its larger output. Looks at histogram families only and stops at the first one.
    var holdsNativeHistograms: Bool {
        for group in groups.values {
            for family in group.state.families.values where family.type.isHistogram {
                for state in family.series.values {
                    if case .nativeHistogram = state.value { return true }
                }
            }
        }
        return false
    }
}
