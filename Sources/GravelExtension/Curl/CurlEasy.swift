import CCurl

/// An HTTP request for ``CurlEasy``.
package struct HTTPClientRequest: Sendable {
    package var method: String
    package var url: String
    package var headers: [String]
    package var body: [UInt8]?
    /// The whole transfer's limit; 0 waits forever (the Extensions API's `/event/next`).
    package var timeoutMs: Int

    package init(method: String, url: String, headers: [String] = [], body: [UInt8]? = nil, timeoutMs: Int = 0) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeoutMs = timeoutMs
    }
}

/// What came back.
package struct HTTPClientResponse: Sendable {
    package var status: Int
    package var headers: [(name: String, value: String)]
    package var body: [UInt8]

    package func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.last { $0.name.lowercased() == lower }?.value
    }

    package var text: String { String(decoding: body, as: UTF8.self) }
}

/// A transfer that failed before a response arrived (connection refused, timeout, TLS).
package struct CurlFailure: Error, Sendable, CustomStringConvertible {
    package let code: Int
    package let message: String
    package var description: String { "\(message) (curl error \(code))" }
}

/// Credentials, trust and proxy use, applied to every transfer of a handle.
package struct CurlSecurity: Sendable {
    /// Basic auth password; the gateway ignores the user name.
    package var password: String?
    /// The CAs HTTPS servers are verified against.
    package var trust: CurlTrust
    /// Whether proxy variables from the environment (http_proxy, ALL_PROXY, ...) apply.
    /// The Lambda APIs are local to the sandbox and must never go through a proxy.
    package var useEnvironmentProxy: Bool

    package init(password: String? = nil, trust: CurlTrust = .libraryDefault, useEnvironmentProxy: Bool = true) {
        self.password = password
        self.trust = trust
        self.useEnvironmentProxy = useEnvironmentProxy
    }
}

/// One libcurl easy handle: blocking transfers on the calling thread.
///
/// The handle keeps its connection cache across transfers, so requests to the same host
/// reuse one keep-alive connection (the gateway's flushes across invocations). Not
/// thread-safe: each thread that makes requests owns its own handle.
package final class CurlEasy {
    private let handle: UnsafeMutableRawPointer
    private let sink = ResponseSink()
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
    private let security: CurlSecurity

    /// Call once, before any thread starts a transfer (libcurl's global state).
    package static func globalInit() {
        _ = gravel_curl_global_init()
    }

    package init(security: CurlSecurity = CurlSecurity()) {
        guard let handle = curl_easy_init() else { fatalError("curl_easy_init failed: out of memory") }
        self.handle = handle
        self.security = security
    }

    deinit {
        curl_easy_cleanup(handle)
        errorBuffer.deallocate()
    }

    package func perform(_ request: HTTPClientRequest) -> Result<HTTPClientResponse, CurlFailure> {
        // Reset clears options only: live connections and the DNS cache stay.
        curl_easy_reset(handle)
        sink.body.removeAll(keepingCapacity: true)
        sink.headers.removeAll(keepingCapacity: true)
        errorBuffer[0] = 0

        var slist: UnsafeMutablePointer<curl_slist>? = nil
        // libcurl asks for 100-continue before larger bodies: one more round trip for nothing.
        for header in request.headers + ["Expect:"] {
            slist = curl_slist_append(slist, header)
        }
        defer { curl_slist_free_all(slist) }

        _ = gravel_curl_setopt_string(handle, CURLOPT_URL, request.url)
        _ = gravel_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        _ = gravel_curl_setopt_long(handle, CURLOPT_TCP_KEEPALIVE, 1)
        _ = gravel_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, request.timeoutMs)
        _ = gravel_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, request.timeoutMs == 0 ? 10_000 : request.timeoutMs)
        _ = gravel_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, slist)
        _ = gravel_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer)
        let context = Unmanaged.passUnretained(sink).toOpaque()
        _ = gravel_curl_setopt_write_function(handle) { data, size, count, context in
            let n = size * count
            guard let data, let context else { return n }
            let sink = Unmanaged<ResponseSink>.fromOpaque(context).takeUnretainedValue()
            data.withMemoryRebound(to: UInt8.self, capacity: n) {
                sink.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: n))
            }
            return n
        }
        _ = gravel_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, context)
        _ = gravel_curl_setopt_header_function(handle) { data, size, count, context in
            let n = size * count
            guard let data, let context else { return n }
            let sink = Unmanaged<ResponseSink>.fromOpaque(context).takeUnretainedValue()
            data.withMemoryRebound(to: UInt8.self, capacity: n) {
                sink.headerLine(UnsafeBufferPointer(start: $0, count: n))
            }
            return n
        }
        _ = gravel_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, context)
        if let password = security.password {
            _ = gravel_curl_setopt_long(handle, CURLOPT_HTTPAUTH, gravel_curlauth_basic)
            _ = gravel_curl_setopt_string(handle, CURLOPT_USERNAME, "gravel")
            _ = gravel_curl_setopt_string(handle, CURLOPT_PASSWORD, password)
        }
        switch security.trust {
        case .libraryDefault: break
        case .file(let path): _ = gravel_curl_setopt_string(handle, CURLOPT_CAINFO, path)
        case .pem(let bundle):
            _ = bundle.withUnsafeBytes { gravel_curl_setopt_blob(handle, CURLOPT_CAINFO_BLOB, $0.baseAddress, $0.count) }
        }
        if !security.useEnvironmentProxy {
            // "*" matches every host: libcurl then ignores http_proxy and ALL_PROXY.
            _ = gravel_curl_setopt_string(handle, CURLOPT_NOPROXY, "*")
        }

        let code: CURLcode
        switch (request.method, request.body) {
        case ("GET", nil):
            _ = gravel_curl_setopt_long(handle, CURLOPT_HTTPGET, 1)
            code = curl_easy_perform(handle)
        case (let method, nil):
            _ = gravel_curl_setopt_long(handle, CURLOPT_HTTPGET, 1)
            _ = gravel_curl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, method)
            code = curl_easy_perform(handle)
        case (let method, let body?):
            code = body.withUnsafeBytes { raw -> CURLcode in
                _ = gravel_curl_setopt_long(handle, CURLOPT_POST, 1)
                // An empty body still needs a non-null pointer, or libcurl reads from stdin.
                let pointer = raw.baseAddress ?? UnsafeRawPointer(errorBuffer)
                _ = gravel_curl_setopt_pointer(handle, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: pointer))
                _ = gravel_curl_setopt_off_t(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(raw.count))
                if method != "POST" { _ = gravel_curl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, method) }
                return curl_easy_perform(handle)
            }
        }
        guard code == CURLE_OK else {
            let detail = String(cString: errorBuffer)
            let message = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
            return .failure(CurlFailure(code: Int(code.rawValue), message: message))
        }
        var status = 0
        _ = gravel_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return .success(HTTPClientResponse(status: status, headers: sink.headers, body: sink.body))
    }
}

/// Collects a response for the C callbacks, which reach it through an opaque pointer.
private final class ResponseSink {
    var body: [UInt8] = []
    var headers: [(name: String, value: String)] = []

    func headerLine(_ line: UnsafeBufferPointer<UInt8>) {
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
            // A status line starts a new header block (after a redirect or 100 Continue).
            if line.starts(with: Array("HTTP/".utf8)) { headers.removeAll(keepingCapacity: true) }
            return
        }
        let name = String(decoding: line[..<colon], as: UTF8.self)
        var start = colon + 1, end = line.count
        while start < end, line[start] == 0x20 || line[start] == 0x09 { start += 1 }
        while end > start, line[end - 1] == 0x0D || line[end - 1] == 0x0A || line[end - 1] == 0x20 || line[end - 1] == 0x09 { end -= 1 }
        headers.append((name, String(decoding: line[start..<end], as: UTF8.self)))
    }
}
