/// A bcrypt hash as `htpasswd -nbB` writes it: `$2y$10$` followed by 22 salt and 31 hash
/// characters of bcrypt's base64 alphabet. `$2a$` and `$2b$` are accepted too.
struct BcryptHash: Sendable, Hashable, CustomStringConvertible {
    /// The hash exactly as written in the file, which is also the setting libcrypt reads.
    let text: String
    /// The cost factor: bcrypt runs 2^cost rounds.
    let cost: Int

    /// Costs outside this range are refused: below 4 bcrypt is undefined, and from about
    /// 20 up one verification takes minutes, which would stall every new client.
    static let costs = 4...20

    static let alphabet: Set<UInt8> = Set("./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8)

    /// Why a text is not a usable bcrypt hash, in words a person can act on.
    enum Problem: Error, Sendable, Equatable {
        case notBcrypt
        case cost(Int)
        case length(Int)
        case character

        var message: String {
            switch self {
            case .notBcrypt:
                "not a bcrypt hash: expected $2y$, $2a$ or $2b$, a two-digit cost and 53 characters, as `htpasswd -bnBC 10 \"\" PASSWORD | tr -d ':\\n'` writes"
            case .cost(let cost):
                "bcrypt cost \(cost) is outside \(BcryptHash.costs.lowerBound)...\(BcryptHash.costs.upperBound); `htpasswd -B` uses 5 by default, 10 is a good choice"
            case .length(let count):
                "the bcrypt hash has \(count) characters after the cost, expected 53 (22 salt and 31 hash); was it cut?"
            case .character:
                "the bcrypt hash holds a character outside bcrypt's alphabet (./A-Za-z0-9)"
            }
        }
    }

    init(_ text: some StringProtocol) throws(Problem) {
        let bytes = Array(text.utf8)
        // "$2y$10$" + 53 characters.
        guard bytes.count >= 7, bytes[0] == UInt8(ascii: "$"), bytes[1] == UInt8(ascii: "2"),
            [UInt8(ascii: "a"), UInt8(ascii: "b"), UInt8(ascii: "y")].contains(bytes[2]),
            bytes[3] == UInt8(ascii: "$"), bytes[6] == UInt8(ascii: "$"),
            let tens = Self.digit(bytes[4]), let ones = Self.digit(bytes[5])
        else { throw .notBcrypt }
        let cost = tens * 10 + ones
        guard Self.costs.contains(cost) else { throw .cost(cost) }
        let rest = bytes[7...]
        guard rest.count == 53 else { throw .length(rest.count) }
        guard rest.allSatisfy(Self.alphabet.contains) else { throw .character }
        self.text = String(text)
        self.cost = cost
    }

    private static func digit(_ byte: UInt8) -> Int? {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) ? Int(byte - UInt8(ascii: "0")) : nil
    }

    /// Never the hash itself: it would let a reader of the logs attack the password offline.
    var description: String { "bcrypt hash (cost \(cost))" }
}
