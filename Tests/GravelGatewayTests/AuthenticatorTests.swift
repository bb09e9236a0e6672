import Synchronization
import Testing

@testable import GravelGateway

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

@Suite("Authenticator")
struct AuthenticatorTests {
    /// Counts verifier calls; "matches" when the password equals the hash text's last word.
    final class FakeBcrypt: Sendable {
        let calls = Atomic<Int>(0)
        var verifier: Authenticator.Verifier {
            { password, hash in
                self.calls.add(1, ordering: .relaxed)
                return hash.text.hasSuffix(String(decoding: password, as: UTF8.self))
            }
        }
    }

    /// Holds offloaded work until opened, to line up concurrent checks.
    final class Latch: Sendable {
        private let state = Mutex<(open: Bool, waiting: [CheckedContinuation<Void, Never>])>((false, []))
        func wait() async {
            await withCheckedContinuation { continuation in
                let open = state.withLock { state in
                    if !state.open { state.waiting.append(continuation) }
                    return state.open
                }
                if open { continuation.resume() }
            }
        }
        var waitingCount: Int { state.withLock { $0.waiting.count } }
        func open() {
            let waiting = state.withLock { state in
                state.open = true
                defer { state.waiting = [] }
                return state.waiting
            }
            for continuation in waiting { continuation.resume() }
        }
        var offload: Authenticator.Offload {
            { work in
                await self.wait()
                return work()
            }
        }
    }

    /// A syntactically valid hash whose text ends with `password` (see FakeBcrypt).
    static func hash(_ password: String) -> BcryptHash {
        let body = String(repeating: "a", count: 53 - password.count) + password
        return try! BcryptHash("$2y$04$" + body)
    }

    static func basic(_ password: String, user: String = "") -> String {
        "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
    }

    static let immediate: Authenticator.Offload = { work in work() }

    @Test("Missing and non-Basic headers are refused without hashing")
    func missing() async {
        let fake = FakeBcrypt()
        let auth = Authenticator(hashes: [Self.hash("secret")], verifier: fake.verifier, offload: Self.immediate)
        #expect(await auth.check(nil) == .missing)
        #expect(await auth.check("") == .missing)
        #expect(await auth.check("Bearer secret") == .missing)
        #expect(fake.calls.load(ordering: .relaxed) == 0)
    }

    @Test("A verified password is cached: bcrypt runs once per password, not per push or header")
    func cachedGrant() async {
        let fake = FakeBcrypt()
        let auth = Authenticator(hashes: [Self.hash("secret")], verifier: fake.verifier, offload: Self.immediate)
        #expect(await auth.check(Self.basic("secret")) == .granted)
        let afterFirst = fake.calls.load(ordering: .relaxed)
        #expect(afterFirst == 1)
        for _ in 0..<100 { #expect(await auth.check(Self.basic("secret")) == .granted) }
        #expect(fake.calls.load(ordering: .relaxed) == afterFirst)
        // Another user name is another header for the same password: granted from the
        // remembered password, without bcrypt.
        #expect(await auth.check(Self.basic("secret", user: "ci")) == .granted)
        #expect(fake.calls.load(ordering: .relaxed) == afterFirst)
    }

    @Test("Every hash in the file is tried, and the legacy raw form works")
    func everyHash() async {
        let fake = FakeBcrypt()
        let auth = Authenticator(
            hashes: [Self.hash("first"), Self.hash("second"), Self.hash("third")],
            verifier: fake.verifier, offload: Self.immediate)
        #expect(await auth.check(Self.basic("third")) == .granted)
        #expect(await auth.check("Basic second") == .granted)
        #expect(await auth.check(Self.basic("fourth")) == .refused)
    }

    @Test("A wrong password is refused, and the refusal cached apart from grants")
    func cachedRefusal() async {
        let fake = FakeBcrypt()
        let auth = Authenticator(
            hashes: [Self.hash("secret")], cacheCapacity: 4, verifier: fake.verifier, offload: Self.immediate)
        #expect(await auth.check(Self.basic("secret")) == .granted)
        #expect(await auth.check(Self.basic("wrong")) == .refused)
        let calls = fake.calls.load(ordering: .relaxed)
        #expect(await auth.check(Self.basic("wrong")) == .refused)
        #expect(fake.calls.load(ordering: .relaxed) == calls)
        // Many wrong passwords overflow the refusal cache, never the granted one.
        for i in 0..<20 { #expect(await auth.check(Self.basic("wrong\(i)")) == .refused) }
        let before = fake.calls.load(ordering: .relaxed)
        #expect(await auth.check(Self.basic("secret")) == .granted)
        #expect(fake.calls.load(ordering: .relaxed) == before)
    }

    @Test("Replacing the hashes forgets cached verdicts at once")
    func reload() async {
        let fake = FakeBcrypt()
        let auth = Authenticator(hashes: [Self.hash("old")], verifier: fake.verifier, offload: Self.immediate)
        #expect(await auth.check(Self.basic("old")) == .granted)
        #expect(await auth.check(Self.basic("new")) == .refused)
        auth.replaceHashes([Self.hash("new")])
        #expect(await auth.check(Self.basic("old")) == .refused)
        #expect(await auth.check(Self.basic("new")) == .granted)
    }

    @Test("A verification that straddles a reload does not cache its verdict")
    func reloadDuringVerification() async {
        let fake = FakeBcrypt()
        let latch = Latch()
        let auth = Authenticator(hashes: [Self.hash("old")], verifier: fake.verifier, offload: latch.offload)
        async let verdict = auth.check(Self.basic("old"))
        // Parked in the offload: it has read the old hashes and their generation.
        while latch.waitingCount < 1 { await Task.yield() }
        auth.replaceHashes([Self.hash("new")])
        latch.open()
        #expect(await verdict == .granted)
        #expect(await auth.check(Self.basic("old")) == .refused)
    }

    @Test("Past the running and waiting bound, new credentials get .busy at once")
    func busy() async {
        let fake = FakeBcrypt()
        let latch = Latch()
        let gate = VerificationGate(permits: 1, maxWaiting: 1)
        let auth = Authenticator(hashes: [Self.hash("secret")], gate: gate, verifier: fake.verifier, offload: latch.offload)
        async let first = auth.check(Self.basic("a"))
        while gate.load.running < 1 { await Task.yield() }
        async let second = auth.check(Self.basic("b"))
        while gate.load.waiting < 1 { await Task.yield() }
        // Running 1, waiting 1: a third new credential is turned away without hashing.
        #expect(await auth.check(Self.basic("c")) == .busy)
        latch.open()
        #expect(await first == .refused)
        #expect(await second == .refused)
        #expect(gate.load.running == 0 && gate.load.waiting == 0)
    }

    @Test("One address sending junk cannot fill the gate: another client's new credential gets a turn")
    func fairShare() async {
        let fake = FakeBcrypt()
        let latch = Latch()
        let gate = VerificationGate(permits: 1, maxWaiting: 4, perClient: 2)
        let auth = Authenticator(hashes: [Self.hash("secret")], gate: gate, verifier: fake.verifier, offload: latch.offload)
        async let junk1 = auth.check(Self.basic("junk1"), client: "10.0.0.66")
        while gate.load.running < 1 { await Task.yield() }
        async let junk2 = auth.check(Self.basic("junk2"), client: "10.0.0.66")
        while gate.load.waiting < 1 { await Task.yield() }
        // The attacker's third and later credentials are turned away at once...
        for i in 3..<20 { #expect(await auth.check(Self.basic("junk\(i)"), client: "10.0.0.66") == .busy) }
        // ...while the line still has room for a real client's first verification.
        async let real = auth.check(Self.basic("secret"), client: "10.0.0.7")
        while gate.load.waiting < 2 { await Task.yield() }
        latch.open()
        #expect(await junk1 == .refused)
        #expect(await junk2 == .refused)
        #expect(await real == .granted)
    }

    @Test("Thousands of distinct valid headers cannot evict other clients: passwords are remembered")
    func headerChurn() async {
        let fake = FakeBcrypt()
        let auth = Authenticator(
            hashes: [Self.hash("secret"), Self.hash("other")], cacheCapacity: 16, verifier: fake.verifier,
            offload: Self.immediate)
        #expect(await auth.check(Self.basic("other", user: "prometheus")) == .granted)
        let verifiedOnce = fake.calls.load(ordering: .relaxed)
        // One client cycles through user names with a valid password: the header cache churns.
        for i in 0..<2000 { #expect(await auth.check(Self.basic("secret", user: "u\(i)")) == .granted) }
        // Each spelling of "secret" cost no bcrypt beyond the first...
        #expect(fake.calls.load(ordering: .relaxed) <= verifiedOnce + 4)
        // ...and the other client's header, long evicted from the header cache, needs none.
        let before = fake.calls.load(ordering: .relaxed)
        #expect(await auth.check(Self.basic("other", user: "prometheus")) == .granted)
        #expect(fake.calls.load(ordering: .relaxed) == before)
    }

    @Test("A burst of one new credential costs one verification")
    func burst() async {
        let fake = FakeBcrypt()
        let latch = Latch()
        let gate = VerificationGate(permits: 1, maxWaiting: 16)
        let auth = Authenticator(hashes: [Self.hash("secret")], gate: gate, verifier: fake.verifier, offload: latch.offload)
        await withTaskGroup(of: Authenticator.Verdict.self) { group in
            for _ in 0..<10 { group.addTask { await auth.check(Self.basic("secret")) } }
            while gate.load.waiting < 9 { await Task.yield() }
            latch.open()
            for await verdict in group { #expect(verdict == .granted) }
        }
        #expect(fake.calls.load(ordering: .relaxed) == 1)
    }

    @Test("With libcrypt and the thread pool: grant, refuse, and a cached check costs microseconds")
    func realBcrypt() async throws {
        let auth = Authenticator(hashes: [
            try BcryptHash(PasswordFileTests.other),
            try BcryptHash(PasswordFileTests.secret),
        ])
        let header = Self.basic("secret", user: "ci")
        #expect(await auth.check(header) == .granted)
        #expect(await auth.check("Basic secret") == .granted)
        #expect(await auth.check(Self.basic("nope")) == .refused)

        let rounds = 100_000
        let clock = ContinuousClock()
        let elapsed = await clock.measure {
            for _ in 0..<rounds { _ = await auth.check(header) }
        }
        let perCheck = elapsed / rounds
        let nanoseconds = Double(perCheck.components.attoseconds) / 1e9 + Double(perCheck.components.seconds) * 1e9
        print("cached auth check: \(Int(nanoseconds)) ns per push (\(rounds) rounds)")
        // Generous for debug builds on a loaded machine; a bcrypt run would be ~1000x this.
        #expect(perCheck < .microseconds(50))
    }
}
