import NIOCore
import NIOSSL

/// The server side of `--tls-cert` and `--tls-key`: PEM files read and checked at start-up,
/// so a wrong path or a key that does not fit the certificate stops the gateway with a message
/// instead of failing every handshake.
enum TLSFiles {
    struct Failure: Error, Sendable, CustomStringConvertible {
        let description: String
    }

    static func serverConfiguration(certificate certificatePath: String, key keyPath: String) throws(Failure) -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
        } catch {
            throw Failure(
                description:
                    "cannot read the TLS certificate \(certificatePath) (--tls-cert): \(error); expected a PEM file (-----BEGIN CERTIFICATE-----)"
            )
        }
        guard !chain.isEmpty else {
            throw Failure(description: "the TLS certificate file \(certificatePath) (--tls-cert) holds no PEM certificate")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        } catch {
            throw Failure(description: "cannot read the TLS private key \(keyPath) (--tls-key): \(error); expected an unencrypted PEM key")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        // On close the server sends close_notify and waits for the peer's; idle keep-alive
        // clients rarely answer, and the default 5 s would stretch every graceful shutdown.
        configuration.shutdownTimeout = .milliseconds(500)
        do {
            // Builds the context once now: BoringSSL checks here that the key fits the certificate.
            _ = try NIOSSLContext(configuration: configuration)
        } catch {
            throw Failure(description: "the TLS key \(keyPath) does not fit the certificate \(certificatePath): \(error)")
        }
        return configuration
    }
}
