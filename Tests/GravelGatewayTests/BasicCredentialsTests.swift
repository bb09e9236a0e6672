import Testing

@testable import GravelGateway

@Suite("Basic credentials")
struct BasicCredentialsTests {
    func passwords(_ header: String) -> [String]? {
        BasicCredentials.passwords(in: header)?.map { String(decoding: $0, as: UTF8.self) }
    }

    @Test("base64(user:password): the part after the first colon, then the raw token")
    func userAndPassword() {
        // base64("ci:se:cret")
        #expect(passwords("Basic Y2k6c2U6Y3JldA==") == ["se:cret", "Y2k6c2U6Y3JldA=="])
        // base64(":secret"), as prometheus_client sends with an empty user name
        #expect(passwords("Basic OnNlY3JldA==") == ["secret", "OnNlY3JldA=="])
        // base64("ci:"): an empty password is a candidate like any other
        #expect(passwords("Basic Y2k6") == ["", "Y2k6"])
    }

    @Test("base64 without a colon is the password itself")
    func base64Password() {
        // base64("secret")
        #expect(passwords("Basic c2VjcmV0") == ["secret", "c2VjcmV0"])
    }

    @Test("The legacy raw form: a token that is not base64 is the password")
    func legacy() {
        #expect(passwords("Basic p@ss word!") == ["p@ss word!"])
        // "secret" is valid base64 too (of four binary bytes), so both readings are tried.
        let both = BasicCredentials.passwords(in: "Basic secret")
        #expect(both?.count == 2)
        #expect(both?.last == Array("secret".utf8))
    }

    @Test("The scheme is case-insensitive; blanks around the token are dropped")
    func scheme() {
        #expect(passwords("basic c2VjcmV0")?.first == "secret")
        #expect(passwords("BASIC \t c2VjcmV0  ")?.first == "secret")
    }

    @Test(
        "Other schemes and empty tokens are not Basic credentials",
        arguments: [
            "Bearer abc", "Basic", "Basic ", "Basic   ", "Basicc2VjcmV0", "Digest username=x", "",
        ])
    func notBasic(header: String) {
        #expect(passwords(header) == nil)
    }
}
