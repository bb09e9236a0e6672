import Shared
import Synchronization

/// The gateway's own metrics, exposed as `gravel_gateway_*` on every scrape.
final class GatewayMetrics: Sendable {
    let pushesAccepted = Atomic<Int>(0)
    let pushesRejected = Atomic<Int>(0)
    let deletes = Atomic<Int>(0)
    let bytesReceived = Atomic<Int>(0)
    let samplesReceived = Atomic<Int>(0)
    let scrapes = Atomic<Int>(0)
    let authFailures = Atomic<Int>(0)
    let expiredGroups = Atomic<Int>(0)
    /// Requests by code, handler and method; durations and sizes by handler.
    let requests = RequestMetrics()
    let version: String
    /// The log writer's metrics, with `--data-dir`.
    let wal: WALMetrics?

    init(version: String, wal: WALMetrics? = nil) {
        self.version = version
        self.wal = wal
    }

    /// - Parameter pushedFamily: whether a pushed family has this name. The `process_*`
    ///   metrics of a pushing job (Python's client pushes its own by default) then win over
    ///   the gateway's: two blocks of one name would make the whole scrape invalid.
    func render<W: ScrapeWriter>(
        into writer: inout W, series: Int, groups: Int, staleObservations: Int,
        pushedFamily: (String) -> Bool = { _ in false }
    ) {
        func counter(_ name: String, _ help: String, _ values: [(LabelKey, Int)]) {
            let names = writer.names(family: name, type: .counter)
            writer.writeHeader(metadataName: names.metadata, type: .counter, help: help)
            for (key, value) in values {
                writer.writeSeries(name: names.sample, type: .counter, key: key, value: .scalar(Double(value)))
            }
        }
        func gauge(_ name: String, _ help: String, _ key: LabelKey = .empty, _ value: Double) {
            writer.writeHeader(metadataName: name, type: .gauge, help: help)
            writer.writeSeries(name: Array(name.utf8), type: .gauge, key: key, value: .scalar(value))
        }
        gauge("gravel_gateway_build_info", "Gravel gateway version.", LabelKey(labels: [("version", version)]), 1)
        counter("gravel_gateway_deletes_total", "Group deletions.", [(.empty, deletes.load(ordering: .relaxed))])
        gauge("gravel_gateway_groups", "Groups currently stored.", .empty, Double(groups))
        counter(
            "gravel_gateway_groups_expired_total", "Groups dropped by --series-ttl.", [(.empty, expiredGroups.load(ordering: .relaxed))])
        counter(
            "gravel_gateway_pebble_observations_too_old_total", "Pebble observations ignored for being older than their window.",
            [(.empty, staleObservations)])
        counter(
            "gravel_gateway_pushes_total", "Pushes by outcome.",
            [
                (LabelKey(labels: [("outcome", "accepted")]), pushesAccepted.load(ordering: .relaxed)),
                (LabelKey(labels: [("outcome", "rejected")]), pushesRejected.load(ordering: .relaxed)),
            ])
        counter(
            "gravel_gateway_received_bytes_total", "Push body bytes received, before decompression.",
            [(.empty, bytesReceived.load(ordering: .relaxed))])
        counter(
            "gravel_gateway_received_samples_total", "Samples in accepted pushes.", [(.empty, samplesReceived.load(ordering: .relaxed))])
        counter("gravel_gateway_scrapes_total", "Scrapes served.", [(.empty, scrapes.load(ordering: .relaxed))])
        gauge("gravel_gateway_series", "Series currently stored.", .empty, Double(series))
        counter(
            "gravel_gateway_unauthorized_requests_total", "Requests refused for missing or wrong credentials.",
            [(.empty, authFailures.load(ordering: .relaxed))])
        requests.render(into: &writer)
        ProcessMetrics.current()?.render(into: &writer, skipping: pushedFamily)
        wal?.render(into: &writer)
    }
}
