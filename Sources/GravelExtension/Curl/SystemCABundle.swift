import Logging

/// Where the CA certificates for HTTPS to the gateway come from.
///
/// The layer's libcurl links OpenSSL statically, and a static OpenSSL only looks where the
/// build machine's distribution keeps its certificates. Lambda's Amazon Linux 2023 keeps
/// them elsewhere, so the bundle is looked up at start-up in every common layout and named
/// to libcurl explicitly.
package enum SystemCABundle {
    /// Known system bundles, most common first: Amazon Linux, RHEL and Fedora; Debian and
    /// Ubuntu; openSUSE; the extracted form of p11-kit's trust store; Alpine and BSDs.
    package static let knownPaths = [
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/ssl/ca-bundle.pem",
        "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
        "/etc/ssl/cert.pem",
    ]

    /// The first readable, non-empty bundle of `paths`.
    package static func find(in paths: [String] = knownPaths) -> String? {
        for path in paths {
            if let bytes = FileBytes.read(path), !bytes.isEmpty { return path }
        }
        return nil
    }

    /// The trust libcurl gets: the system bundle, plus `extraFile` (GRAVEL_GATEWAY_CA_FILE)
    /// appended to it as one PEM blob, since libcurl takes one bundle and the gateway's own
    /// CA must not replace the public ones.
    package static func trust(extraFile: String?, paths: [String] = knownPaths, logger: Logger) -> CurlTrust {
        let system = find(in: paths)
        guard let extraFile else {
            if let system { return .file(system) }
            logger.warning(
                "no system CA bundle found; HTTPS to the gateway needs GRAVEL_GATEWAY_CA_FILE",
                metadata: ["looked_in": "\(paths.joined(separator: ","))"])
            return .libraryDefault
        }
        guard let extra = FileBytes.read(extraFile) else {
            logger.error("GRAVEL_GATEWAY_CA_FILE cannot be read; using the system CAs only", metadata: ["path": "\(extraFile)"])
            return system.map(CurlTrust.file) ?? .libraryDefault
        }
        var bundle = system.flatMap(FileBytes.read) ?? []
        if !bundle.isEmpty, bundle.last != 0x0A { bundle.append(0x0A) }
        bundle.append(contentsOf: extra)
        return .pem(bundle)
    }
}

/// The CA certificates a libcurl handle verifies servers against.
package enum CurlTrust: Sendable, Equatable {
    /// Whatever libcurl and its TLS library were built to use.
    case libraryDefault
    /// A PEM bundle file (CURLOPT_CAINFO).
    case file(String)
    /// PEM bytes (CURLOPT_CAINFO_BLOB).
    case pem([UInt8])
}
