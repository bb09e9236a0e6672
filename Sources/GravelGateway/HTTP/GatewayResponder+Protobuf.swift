import Shared

extension GatewayResponder {
    /// Whether the Accept header weighs the delimited protobuf exposition
    /// (`application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily;
    /// encoding=delimited`, which Prometheus lists first with `--enable-feature=native-histograms`)
    /// at least as high as every text format the gateway would otherwise serve.
    static func prefersProtobuf(_ accept: String?, openMetrics: Bool) -> Bool {
        guard let accept else { return false }
        var protobuf = 0.0
        for part in accept.split(separator: ",") {
            let fields = part.split(separator: ";").map { HeaderList.trimmed($0).lowercased() }
            guard fields.first == ProtobufWriter.mediaType else { continue }
            var q = 1.0
            var fits = true
            for parameter in fields.dropFirst() {
                let pair = parameter.split(separator: "=", maxSplits: 1).map { HeaderList.trimmed($0) }
                guard pair.count == 2 else { continue }
                switch pair[0] {
                case "q": q = Double(pair[1]).map { min(max($0, 0), 1) } ?? 1
                case "proto": fits = fits && pair[1] == "io.prometheus.client.metricfamily"
                case "encoding": fits = fits && pair[1] == "delimited"
                default: break
                }
            }
            if fits { protobuf = max(protobuf, q) }
        }
        guard protobuf > 0 else { return false }
        let text = HeaderList.quality(of: ["text/plain", "text/*", "*/*"], in: accept) ?? 0
        let openMetricsQuality = openMetrics ? HeaderList.quality(of: ["application/openmetrics-text"], in: accept) ?? 0 : 0
        return protobuf >= text && protobuf >= openMetricsQuality
    }
}
