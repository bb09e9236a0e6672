import CCrypt

/// bcrypt verification by libcrypt (libxcrypt's `crypt_rn`).
enum Bcrypt {
    /// Whether `password` matches `hash`. Takes 2^cost rounds of work (about 60 ms at cost 10),
    /// so callers run it off the event loops and bound how many run at once.
    ///
    /// A password holding a NUL byte never matches: C strings end there, and accepting the
    /// prefix would let a longer wrong password pass.
    static func verify(_ password: [UInt8], against hash: BcryptHash) -> Bool {
        guard !password.contains(0) else { return false }
        var phrase = password
        phrase.append(0)
        return phrase.withUnsafeBufferPointer { phrase in
            phrase.withMemoryRebound(to: CChar.self) { phrase in
                gravel_crypt_matches(phrase.baseAddress, hash.text) == 1
            }
        }
    }
}
