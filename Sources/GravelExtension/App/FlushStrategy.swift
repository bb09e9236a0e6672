import Shared

/// When the extension flushes its batch, from `GRAVEL_FLUSH`.
package enum FlushStrategy: Sendable, Equatable, CustomStringConvertible {
    /// Before every freeze.
    case end
    /// Before a freeze only when the last flush is older than the interval.
    case periodic(Duration)
    /// `end` while invocations are sparse, `periodic` once they come often.
    case adaptive

    package init?(_ text: String) {
        let parts = text.lowercased().split(separator: ",", omittingEmptySubsequences: false).map {
            $0.filter { $0 != " " }
        }
        switch parts.first {
        case "end" where parts.count == 1: self = .end
        case "adaptive" where parts.count == 1: self = .adaptive
        case "periodic", "periodically":
            guard parts.count == 2, let seconds = Double(parts[1]), seconds.isFinite, seconds >= 0, seconds <= 86_400 else { return nil }
            self = .periodic(.milliseconds(Int64((seconds * 1000).rounded())))
        default: return nil
        }
    }

    package var description: String {
        switch self {
        case .end: "end"
        case .periodic(let interval): "periodic,\(interval.seconds)"
        case .adaptive: "adaptive"
        }
    }
}
