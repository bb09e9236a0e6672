import ArgumentParser
import Testing

@testable import GravelGateway

@Suite("Gateway command: listen address and status flags")
struct GatewayCommandWebTests {
    @Test("`:port` binds :: for IPv4 and IPv6 where the kernel makes it dual stack")
    func wildcard() throws {
        #if os(Linux)
        #expect(try ListenAddress(":4278", bindV6Only: "0\n").host == "::")
        #expect(try ListenAddress(":4278", bindV6Only: "1\n").host == "0.0.0.0")
        #expect(try ListenAddress(":4278", bindV6Only: nil).host == "0.0.0.0")
        #endif
        #expect(try ListenAddress("[::1]:9", bindV6Only: "0").host == "::1")
        #expect(try ListenAddress("127.0.0.1:9", bindV6Only: "0").host == "127.0.0.1")
    }

    @Test("GET /api/v1/status lists every option of the command")
    func statusFlags() throws {
        let command = try GatewayCommand.parse([])
        let listed = Set(command.statusFlags.map(\.0))
        let help = GatewayCommand.helpMessage(columns: 1000)
        let options = Set(
            help.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "," || $0 == "\t" })
                .filter { $0.hasPrefix("--") && $0 != "--help" }
                // Help text mentions options in sentences too: `--tls-key.`, `(--max-series)`.
                .map { token in
                    var name = String(token.dropFirst(2).prefix { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." })
                    while name.hasSuffix(".") { name.removeLast() }
                    return name
                })
        #expect(!options.isEmpty)
        #expect(options.subtracting(listed).isEmpty, "options missing from statusFlags: \(options.subtracting(listed).sorted())")
    }
}
