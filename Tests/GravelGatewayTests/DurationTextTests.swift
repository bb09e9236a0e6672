import Testing

@testable import GravelGateway

@Suite("Duration options")
struct DurationTextTests {
    @Test(
        "Units and combinations",
        arguments: [
            ("90s", Duration.seconds(90)), ("15m", .seconds(900)), ("2h", .seconds(7200)),
            ("1h30m", .seconds(5400)), ("500ms", .milliseconds(500)), ("1d", .seconds(86400)),
        ])
    func valid(text: String, expected: Duration) {
        #expect(DurationText.parse(text) == expected)
    }

    @Test(
        "Malformed, unitless and zero durations are refused",
        arguments: [
            "", "90", "s", "1.5h", "-5s", "0s", "5 s", "5sec", "10y", "99999999999s",
        ])
    func invalid(text: String) {
        #expect(DurationText.parse(text) == nil)
    }
}
