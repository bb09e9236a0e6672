import Crypto
import NIOCore
import NIOPosix
import Synchronization

/// Decides whether a request's `Authorization` header carries a password of the hash file.
///
/// bcrypt is slow by design (about 60 ms at cost 10), and a push should cost microseconds,
/// so verdicts are cached by the SHA-256 of the header value: a known header costs one
/// SHA-256, a short lock and a set lookup (`CredentialKey` compares in constant time).
/// Refusals are cached too (separately, so churn there never evicts a granted credential):
/// a misconfigured client retrying the same wrong password costs nothing after the first try.
/// Behind the header cache, verified *passwords* are remembered by their SHA-256: a header
/// is one of endless spellings of a password (any user name, either Basic form), so a
/// client sending thousands of distinct valid headers churns only the header cache, and
/// every other client's header is granted again from its password without bcrypt.
/// Uncached passwords are verified on the NIO thread pool, a bounded number at a time,
/// with a fair share per client address (`VerificationGate`); past that the answer is `.busy`.
final class Authenticator: Sendable {
    /// What a request gets.
    enum Verdict: Sendable, Equatable {
        case granted
        /// No `Authorization` header, or not Basic.
        case missing
        /// The header's passwords match no hash.
        case refused
        /// Too many uncached verifications are running or waiting; retry shortly.
        case busy
    }

    /// Checks one password against one hash; `Bcrypt.verify` outside tests.
    typealias Verifier = @Sendable (_ password: [UInt8], _ hash: BcryptHash) -> Bool
    /// Runs blocking work off the calling task's thread; the NIO thread pool outside tests.
    typealias Offload = @Sendable (_ work: @escaping @Sendable () -> Int?) async -> Int?

    private struct State {
        var hashes: [BcryptHash]
        /// Bumped when the hashes change, so a verification that started before a reload
        /// cannot cache a verdict about hashes that are gone.
        var generation = 0
        var granted: Set<CredentialKey> = []
        var refused: Set<CredentialKey> = []
        /// SHA-256 of passwords that matched a hash: only a correct password enters, so
        /// nothing an attacker without one sends can evict these.
        var grantedPasswords: Set<CredentialKey> = []
    }

    private let state: Mutex<State>
    private let gate: VerificationGate
    private let verifier: Verifier
    private let offload: Offload
    /// Most headers remembered per verdict. When a set is full it is emptied: the cost is
    /// one bcrypt run per credential still in use, and nothing an attacker sends can grow
    /// memory or push out a granted entry (only valid passwords add to `granted`).
    let cacheCapacity: Int

    init(
        hashes: [BcryptHash],
        gate: VerificationGate = Authenticator.defaultGate(),
        cacheCapacity: Int = 1024,
        verifier: @escaping Verifier = Bcrypt.verify,
        offload: @escaping Offload = Authenticator.threadPool
    ) {
        self.state = Mutex(State(hashes: hashes))
        self.gate = gate
        self.cacheCapacity = cacheCapacity
        self.verifier = verifier
        self.offload = offload
    }

    /// At most half the cores verify at once (at least one), so pushes with cached
    /// credentials keep the other half; four times as many may wait for a turn, and one
    /// client address holds at most two places.
    static func defaultGate() -> VerificationGate {
        let permits = max(1, System.coreCount / 2)
        return VerificationGate(permits: permits, maxWaiting: 4 * permits + 2, perClient: 2)
    }

    static let threadPool: Offload = { work in
        (try? await NIOThreadPool.singleton.runIfActive(work)) ?? nil
    }

    /// Replaces the hashes (a re-read password file) and forgets every cached verdict, so a
    /// removed password stops working at once.
    func replaceHashes(_ hashes: [BcryptHash]) {
        state.withLock { state in
            state.hashes = hashes
            state.generation += 1
            state.granted.removeAll()
            state.refused.removeAll()
            state.grantedPasswords.removeAll()
        }
    }

    var hashCount: Int { state.withLock { $0.hashes.count } }

    /// The verdict for a request's `Authorization` header value.
    ///
    /// - Parameter client: who is asking (the source address), for the gate's fair share.
    func check(_ authorization: String?, client: String = "") async -> Verdict {
        guard let authorization, !authorization.isEmpty else { return .missing }
        let digest = Self.digest(authorization)
        if let cached = cachedVerdict(digest) { return cached }
        guard let passwords = BasicCredentials.passwords(in: authorization) else { return .missing }
        let passwordDigests = passwords.map(Self.digest)
        if knownPassword(passwordDigests) {
            remember(digest, granted: true, generation: nil)
            return .granted
        }

        guard await gate.enter(client: client) else { return .busy }
        defer { gate.leave(client: client) }
        // Requests with the same new credential queue up behind the first; it has cached
        // the verdict by the time they get their turn.
        if let cached = cachedVerdict(digest) { return cached }
        let (hashes, generation) = state.withLock { ($0.hashes, $0.generation) }
        let verifier = self.verifier
        let matchedIndex = await offload {
            for (index, password) in passwords.enumerated() {
                for hash in hashes where verifier(password, hash) { return index }
            }
            return nil
        }
        remember(digest, granted: matchedIndex != nil, generation: generation)
        if let matchedIndex {
            let capacity = cacheCapacity
            state.withLock { state in
                guard state.generation == generation else { return }
                if state.grantedPasswords.count >= capacity { state.grantedPasswords.removeAll(keepingCapacity: true) }
                state.grantedPasswords.insert(passwordDigests[matchedIndex])
            }
        }
        return matchedIndex != nil ? .granted : .refused
    }

    /// Caches a header's verdict, unless the hashes changed since it was reached.
    private func remember(_ digest: CredentialKey, granted: Bool, generation: Int?) {
        let capacity = cacheCapacity
        state.withLock { state in
            if let generation, state.generation != generation { return }
            if granted {
                if state.granted.count >= capacity { state.granted.removeAll(keepingCapacity: true) }
                state.granted.insert(digest)
            } else {
                if state.refused.count >= capacity { state.refused.removeAll(keepingCapacity: true) }
                state.refused.insert(digest)
            }
        }
    }

    private func knownPassword(_ digests: [CredentialKey]) -> Bool {
        state.withLock { state in digests.contains { state.grantedPasswords.contains($0) } }
    }

    private func cachedVerdict(_ digest: CredentialKey) -> Verdict? {
        state.withLock { state in
            if state.granted.contains(digest) { return .granted }
            if state.refused.contains(digest) { return .refused }
            return nil
        }
    }

    static func digest(_ header: String) -> CredentialKey {
        var header = header
        return header.withUTF8 { digest(UnsafeRawBufferPointer($0)) }
    }

    static func digest(_ bytes: [UInt8]) -> CredentialKey {
        bytes.withUnsafeBytes { digest($0) }
    }

    static func digest(_ bytes: UnsafeRawBufferPointer) -> CredentialKey {
        var hasher = SHA256()
        hasher.update(bufferPointer: bytes)
        return CredentialKey(hasher.finalize())
    }
}
