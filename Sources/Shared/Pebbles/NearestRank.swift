/// The nearest rank ⌈q·n⌉ of docs/SEMANTICS.md S36 (at least the first), as a rank in
/// `1...n` for any `q` and any `n ≥ 1`.
///
/// A clearmode spelling only gives quantiles in (0, 1), but `PebbleSpec` is public: a
/// quantile of 0, 2, ∞ or NaN must answer the minimum or the maximum, never trap in
/// `Int(_:)` or index past the end.
func nearestRank(_ q: Double, of n: Int) -> Int {
    guard n > 1, q > 0 else { return 1 }  // `q > 0` is false for NaN too.
    guard q < 1 else { return n }
    let rank = (q * Double(n)).rounded(.up)
    // Double(n) rounds for n beyond 2⁵³, so the product may reach n: clamp before converting.
    return rank >= Double(n) ? n : max(1, Int(rank))
}
