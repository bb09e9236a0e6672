/// Field numbers and wire types of `io.prometheus.client`'s `metrics.proto` (client_model),
/// the messages of the protobuf exposition format, named as in the `.proto` file. The
/// reader (``ProtobufExposition``) and the writer (``ProtobufWriter``) use these names only.
enum MetricsProto {
    /// Wire types: how a field's value is encoded.
    enum Wire {
        static let varint: UInt64 = 0
        static let fixed64: UInt64 = 1
        static let lengthDelimited: UInt64 = 2
        static let fixed32: UInt64 = 5
    }

    enum MetricFamily {
        static let name: UInt64 = 1
        static let help: UInt64 = 2
        static let type: UInt64 = 3
        static let metric: UInt64 = 4
    }

    /// `MetricType` values of `MetricFamily.type`.
    enum MetricType {
        static let counter: UInt64 = 0
        static let gauge: UInt64 = 1
        static let summary: UInt64 = 2
        static let untyped: UInt64 = 3
        static let histogram: UInt64 = 4
        static let gaugeHistogram: UInt64 = 5
    }

    enum LabelPair {
        static let name: UInt64 = 1
        static let value: UInt64 = 2
    }

    enum Metric {
        static let label: UInt64 = 1
        static let gauge: UInt64 = 2
        static let counter: UInt64 = 3
        static let summary: UInt64 = 4
        static let untyped: UInt64 = 5
        static let timestampMs: UInt64 = 6
        static let histogram: UInt64 = 7
    }

    /// `Gauge`, `Counter` and `Untyped` all hold one `double value = 1`.
    enum ScalarValue {
        static let value: UInt64 = 1
    }

    enum Summary {
        static let sampleCount: UInt64 = 1
        static let sampleSum: UInt64 = 2
        static let quantile: UInt64 = 3
    }

    enum Quantile {
        static let quantile: UInt64 = 1
        static let value: UInt64 = 2
    }

    enum Histogram {
        static let sampleCount: UInt64 = 1
        static let sampleSum: UInt64 = 2
        static let bucket: UInt64 = 3
        static let sampleCountFloat: UInt64 = 4
        static let schema: UInt64 = 5
        static let zeroThreshold: UInt64 = 6
        static let zeroCount: UInt64 = 7
        static let zeroCountFloat: UInt64 = 8
        static let negativeSpan: UInt64 = 9
        static let negativeDelta: UInt64 = 10
        static let negativeCount: UInt64 = 11
        static let positiveSpan: UInt64 = 12
        static let positiveDelta: UInt64 = 13
        static let positiveCount: UInt64 = 14
    }

    enum Bucket {
        static let cumulativeCount: UInt64 = 1
        static let upperBound: UInt64 = 2
        static let cumulativeCountFloat: UInt64 = 4
    }

    enum BucketSpan {
        static let offset: UInt64 = 1
        static let length: UInt64 = 2
    }
}
