extension GroupState {
    /// Whether any series is a native histogram: only the protobuf format can carry such a
    /// group. Looks at histogram families only and stops at the first one.
    public var holdsNativeHistograms: Bool {
        for family in families.values where family.type.isHistogram {
            for state in family.series.values {
                if case .nativeHistogram = state.value { return true }
            }
        }
        return false
    }
}
