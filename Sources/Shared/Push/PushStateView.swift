/// What the push rules need to know of the state a push is checked against.
///
/// The gateway answers from its store's indexes; the extension from its pending and
/// in-flight batches (what the gateway will hold when they arrive). `excludingGroup` names
/// a group whose content the push replaces (a PUT): the push is judged against the state
/// after it, so what the PUT removes cannot conflict with what it brings.
public protocol PushStateView {
    /// The type `family` is stored as in some group other than `excludingGroup`.
    func storedType(of family: String, excludingGroup: LabelKey?) -> MetricType?
    /// The family that writes the exposed `name` (`foo_sum` of a histogram `foo`) in some
    /// group other than `excludingGroup`.
    func family(writing name: String, excludingGroup: LabelKey?) -> String?
    /// The group that exposes the final series `family{key}`, if any.
    func owner(of family: String, key: LabelKey) -> LabelKey?
    /// The stored state of a group, if it exists.
    func group(_ key: LabelKey) -> GroupState?
    /// Series held in all groups.
    var seriesCount: Int { get }
    /// Groups held.
    var groupCount: Int { get }
}
