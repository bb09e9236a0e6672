import Crypto

/// The SHA-256 of an `Authorization` header value, as the cache key of its verdict.
///
/// Only the hash is kept, never the header: a memory dump shows no password. Equality
/// looks at all 32 bytes whatever they are, so lookups take the same time however close
/// a guess comes to a cached key.
struct CredentialKey: Hashable, Sendable {
    private let words: (UInt64, UInt64, UInt64, UInt64)

    init(_ digest: SHA256Digest) {
        words = digest.withUnsafeBytes { raw in
            (
                raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self),
                raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self),
                raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self),
                raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self)
            )
        }
    }

    static func == (lhs: CredentialKey, rhs: CredentialKey) -> Bool {
        let difference =
            (lhs.words.0 ^ rhs.words.0) | (lhs.words.1 ^ rhs.words.1)
            | (lhs.words.2 ^ rhs.words.2) | (lhs.words.3 ^ rhs.words.3)
        return difference == 0
    }

    func hash(into hasher: inout Hasher) {
        // The words are already uniformly random; the set's own hasher adds its seed.
        hasher.combine(words.0)
    }
}
