import Testing

@testable import GravelGateway

@Suite("Password file")
struct PasswordFileTests {
    static let secret = "$2y$04$WgFQZZLlc81Y4yZVEqvbke/0p4ZyrWH1L3vDucMmJ8RfsVS36WWIa"
    static let other = "$2y$04$h4jWlb7oF0to7gWxu6JhXeL9SGwjv5qaNQcLLS7yUiUVKHQfeO48a"

    @Test("Blank lines, comments, CRLF and htpasswd user:hash lines are read")
    func lenientLines() throws {
        let text = "# gateway passwords\n\n  \(Self.secret)  \r\n\t\nci:\(Self.other)\n# end\n"
        let file = try PasswordFile.parse(text, path: "auth.txt")
        #expect(file.hashes.map(\.text) == [Self.secret, Self.other])
        #expect(file.hashes.allSatisfy { $0.cost == 4 })
    }

    @Test("$2a$ and $2b$ are bcrypt too")
    func variants() throws {
        let tail = Self.secret.dropFirst(4)
        for prefix in ["$2a$", "$2b$", "$2y$"] {
            #expect(throws: Never.self) { try BcryptHash(prefix + tail) }
        }
        #expect(throws: BcryptHash.Problem.notBcrypt) { try BcryptHash("$1$" + tail) }
        #expect(throws: BcryptHash.Problem.notBcrypt) { try BcryptHash("$2x$" + tail) }
    }

    @Test(
        "A malformed line stops with its line number and a hint",
        arguments: [
            ("secret", "not a bcrypt hash"),
            ("$2y$04$short", "expected 53"),
            ("$2y$03$WgFQZZLlc81Y4yZVEqvbke/0p4ZyrWH1L3vDucMmJ8RfsVS36WWIa", "cost 3"),
            ("$2y$04$WgFQZZLlc81Y4yZVEqvbke/0p4ZyrWH1L3vDucMmJ8RfsVS36WW!a", "alphabet"),
        ])
    func malformed(line: String, hint: String) {
        let text = "# comment\n\(Self.secret)\n\(line)\n"
        do {
            _ = try PasswordFile.parse(text, path: "auth.txt")
            Issue.record("accepted \(line)")
        } catch {
            #expect(error.code == .malformedLine)
            #expect(error.line == 3)
            #expect(error.description.hasPrefix("auth.txt:3: "))
            #expect(error.description.contains(hint))
            // The message must not echo the line: it may be a hash or a pasted password.
            #expect(!error.description.contains(line))
        }
    }

    @Test("A file without hashes is refused: it would lock every client out")
    func empty() {
        #expect(throws: PasswordFileError.self) { try PasswordFile.parse("# nothing yet\n\n", path: "auth.txt") }
    }

    @Test("A missing file names its path")
    func missing() {
        do {
            _ = try PasswordFile.load(path: "/nonexistent/gravel-auth")
            Issue.record("loaded a missing file")
        } catch {
            #expect(error.code == .unreadable)
            #expect(error.description.hasPrefix("/nonexistent/gravel-auth: "))
        }
    }

    @Test("libcrypt verifies htpasswd's hashes")
    func bcrypt() throws {
        let hash = try BcryptHash(Self.secret)
        #expect(Bcrypt.verify(Array("secret".utf8), against: hash))
        #expect(!Bcrypt.verify(Array("Secret".utf8), against: hash))
        #expect(!Bcrypt.verify([], against: hash))
        // C strings end at NUL: "secret\0tail" must not pass as "secret".
        #expect(!Bcrypt.verify(Array("secret\u{0}tail".utf8), against: hash))
    }
}
