import Logging
import ServiceLifecycle
import UnixSignals

/// Re-reads `--basic-auth-file` on SIGHUP. A file that no longer parses is reported and
/// the hashes in use stay, so a half-edited file cannot lock every client out.
///
/// Runs without a password file too, so that SIGHUP (a closed terminal, a habitual
/// `kill -HUP`) never terminates the gateway as it would by default.
struct PasswordFileReloadService: Service {
    /// The file and who uses its hashes; `nil` when the gateway runs without auth.
    let file: (path: String, authenticator: Authenticator)?
    let logger: Logger

    func run() async throws {
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        for await _ in hangups.cancelOnGracefulShutdown() {
            reload()
        }
    }

    func reload() {
        guard let (path, authenticator) = file else {
            logger.info("SIGHUP: nothing to re-read (no --basic-auth-file)")
            return
        }
        do {
            let file = try PasswordFile.load(path: path)
            authenticator.replaceHashes(file.hashes)
            logger.notice("password file re-read", metadata: ["path": "\(path)", "hashes": "\(file.hashes.count)"])
        } catch {
            logger.error(
                "password file not re-read; the previous hashes stay in use",
                metadata: ["error": "\(error.description)", "hashes": "\(authenticator.hashCount)"])
        }
    }
}

extension PasswordFileReloadService: CustomStringConvertible {
    var description: String { "PasswordFileReloadService(\(file?.path ?? "no file"))" }
}
