/// What became of one flush point.
package enum FlushOutcome: Sendable, Equatable {
    /// Nothing was pending.
    case nothing
    /// A previous flush was still running at the deadline.
    case busy
    case delivered
    /// Some groups failed and were kept for later; some may have been delivered.
    case failed(String)
    /// The wait ended at the deadline; the flush goes on in the background.
    case timedOut
}
