import HTTPTypes
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTPTypes
import Testing

@testable import GravelGateway

@Suite("Request read timeout")
struct RequestReadTimeoutHandlerTests {
    func channel() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(
            RequestReadTimeoutHandler(timeout: .seconds(30), logger: Logger(label: "test")))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    let head = HTTPRequestPart.head(HTTPRequest(method: .post, scheme: nil, authority: nil, path: "/metrics/job/a"))

    @Test("A body still arriving when the timeout passes closes the connection")
    func slowBody() throws {
        let channel = try channel()
        try channel.writeInbound(head)
        try channel.writeInbound(HTTPRequestPart.body(ByteBuffer(string: "x")))
        channel.embeddedEventLoop.advanceTime(by: .seconds(29))
        #expect(channel.isActive)
        try channel.writeInbound(HTTPRequestPart.body(ByteBuffer(string: "y")))
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(!channel.isActive)
    }

    @Test("A request read in time leaves the connection open, and each request gets its own time")
    func inTime() throws {
        let channel = try channel()
        for _ in 0..<3 {
            try channel.writeInbound(head)
            channel.embeddedEventLoop.advanceTime(by: .seconds(20))
            try channel.writeInbound(HTTPRequestPart.end(nil))
            channel.embeddedEventLoop.advanceTime(by: .seconds(20))
            #expect(channel.isActive)
        }
        // Parts pass through unchanged.
        var parts = 0
        while try channel.readInbound(as: HTTPRequestPart.self) != nil { parts += 1 }
        #expect(parts == 6)
        _ = try channel.finish()
    }
}
