import Shared
import Synchronization

/// Rows of histograms with shared bucket bounds, updated with relaxed atomics only.
///
/// A scrape may see an observation's bucket before its sum; the `+Inf` bucket and
/// `_count` are computed from the same loads, so they always agree.
final class AtomicHistograms: Sendable {
    let bounds: [Double]
    let rows: Int
    /// Per row: one non-cumulative counter per bound, then one for `+Inf`.
    private let buckets: AtomicCounters
    /// Per row: the sum of observations, as the bit pattern of a Double.
    private let sums: AtomicCounters

    init(rows: Int, bounds: [Double]) {
        self.rows = rows
        self.bounds = bounds
        buckets = AtomicCounters(count: rows * (bounds.count + 1))
        sums = AtomicCounters(count: rows)
    }

    func observe(row: Int, _ value: Double) {
        // A dozen bounds: a linear scan beats a binary search here.
        var bucket = bounds.count
        for (i, bound) in bounds.enumerated() where value <= bound {
            bucket = i
            break
        }
        buckets.add(row * (bounds.count + 1) + bucket)
        sums.addDouble(row, value)
    }

    /// `_bucket`, `_sum` and `_count` of every row that saw an observation.
    func render<W: ScrapeWriter>(into writer: inout W, name: String, help: String, keys: [LabelKey]) {
        var headerWritten = false
        let sample = Array(name.utf8)
        for row in 0..<rows {
            var cumulative = 0
            var histogramBuckets: [Bucket] = []
            histogramBuckets.reserveCapacity(bounds.count + 1)
            for i in 0...bounds.count {
                cumulative += buckets.load(row * (bounds.count + 1) + i)
                histogramBuckets.append(Bucket(upperBound: i < bounds.count ? bounds[i] : .infinity, count: Double(cumulative)))
            }
            guard cumulative > 0 else { continue }
            if !headerWritten {
                writer.writeHeader(metadataName: name, type: .histogram, help: help)
                headerWritten = true
            }
            let sum = sums.loadDouble(row)
            writer.writeSeries(
                name: sample, type: .histogram, key: keys[row],
                value: .histogram(HistogramValue(buckets: histogramBuckets, sum: sum)))
        }
    }
}
