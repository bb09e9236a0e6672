import Shared
import Testing

@Suite("Push URL paths")
struct GroupingKeyTests {
    @Test("Label pairs, URL decoding and base64 values")
    func paths() throws {
        let key = try GroupingKey(path: "/metrics/job/checkout/region/eu%2Dwest/path@base64/L3Zhci90bXA=")
        #expect(key.labels.map(\.name) == ["job", "path", "region"])
        #expect(key.labels.map(\.value) == ["checkout", "/var/tmp", "eu-west"])
        // An empty value is no label, as Prometheus reads it.
        #expect(try GroupingKey(path: "/metrics/job/a/empty@base64/=") == GroupingKey(labels: [("job", "a")]))
        #expect(try GroupingKey(path: "/metrics/job/a/x@base64/L3Zhci90bXA").labels.first { $0.name == "x" }?.value == "/var/tmp")
        #expect(try GroupingKey(path: "/metrics").labels.isEmpty)
        #expect(try GroupingKey(path: "/metrics", defaultJob: "fn").job == "fn")
    }

    @Test(
        "Bad paths are refused",
        arguments: [
            "/metrics/job", "/metrics/job/a/instance", "/metrics/__x/1", "/metrics/job/a/job/b", "/metrics/1a/b",
            "/metrics/job/a/x@base64/%%%", "/metrics/clearmode/x", "/other",
        ])
    func badPaths(path: String) {
        #expect(throws: PathError.self) { try GroupingKey(path: path) }
    }

    @Test("A key's path parses back to the same key")
    func pathRoundTrip() throws {
        let key = GroupingKey(labels: [("job", "a b/c"), ("instance", ""), ("zone", "eu")])
        #expect(try GroupingKey(path: key.path) == key)
    }
}
