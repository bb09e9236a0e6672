import NIOCore
import NIOHTTP1
import NIOPosix

/// A request as the extension's listeners see it: head and the whole body.
package struct LocalRequest: Sendable {
    package var method: HTTPMethod
    package var uri: String
    package var headers: HTTPHeaders
    package var body: ByteBuffer

    package init(method: HTTPMethod, uri: String, headers: HTTPHeaders = [:], body: ByteBuffer = ByteBuffer()) {
        self.method = method
        self.uri = uri
        self.headers = headers
        self.body = body
    }

    package var path: String {
        guard let q = uri.firstIndex(of: "?") else { return uri }
        return String(uri[..<q])
    }
}

package struct LocalResponse: Sendable {
    package var status: HTTPResponseStatus
    package var body: String
    package var headers: [(String, String)] = []

    package init(status: HTTPResponseStatus, body: String = "", headers: [(String, String)] = []) {
        self.status = status
        self.body = body
        self.headers = headers
    }
}

/// Answers one request synchronously, on the event loop: both listeners answer in microseconds.
package typealias LocalResponder = @Sendable (LocalRequest) -> LocalResponse

/// A small HTTP/1.1 server on SwiftNIO: the local push API and the Telemetry API listener.
package enum HTTPServer {
    /// Binds and starts serving; the returned channel's `localAddress` has the real port.
    package static func bind(
        host: String, port: Int, group: any EventLoopGroup, maxBodyBytes: Int, responder: @escaping LocalResponder
    ) throws -> any Channel {
        try ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        HTTPServerHandler(maxBodyBytes: maxBodyBytes, responder: responder))
                }
            }
            .bind(host: host, port: port)
            .wait()
    }
}

final class HTTPServerHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let maxBodyBytes: Int
    private let responder: LocalResponder
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()
    private var tooLarge = false

    init(maxBodyBytes: Int, responder: @escaping LocalResponder) {
        self.maxBodyBytes = maxBodyBytes
        self.responder = responder
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body.clear()
            tooLarge = false
        case .body(var chunk):
            if body.readableBytes + chunk.readableBytes > maxBodyBytes {
                tooLarge = true
            } else if !tooLarge {
                body.writeBuffer(&chunk)
            }
        case .end:
            guard let head else { return }
            self.head = nil
            let response: LocalResponse
            if tooLarge {
                response = LocalResponse(
                    status: .payloadTooLarge, body: "the body is larger than \(maxBodyBytes) bytes (GRAVEL_MAX_BODY_BYTES)\n")
            } else {
                response = responder(LocalRequest(method: head.method, uri: head.uri, headers: head.headers, body: body))
            }
            write(response, for: head, context: context, close: tooLarge)
        }
    }

    private func write(_ response: LocalResponse, for request: HTTPRequestHead, context: ChannelHandlerContext, close: Bool) {
        let keepAlive = request.isKeepAlive && !close
        var headers = HTTPHeaders()
        let bytes = response.body.utf8.count
        headers.add(name: "Content-Length", value: String(bytes))
        if bytes > 0 { headers.add(name: "Content-Type", value: "text/plain; charset=utf-8") }
        for (name, value) in response.headers { headers.add(name: name, value: value) }
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        let head = HTTPResponseHead(version: request.version, status: response.status, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if bytes > 0 {
            var buffer = context.channel.allocator.buffer(capacity: bytes)
            buffer.writeString(response.body)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            let loopBoundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
                loopBoundContext.value.close(promise: nil)
            }
        }
    }
}
