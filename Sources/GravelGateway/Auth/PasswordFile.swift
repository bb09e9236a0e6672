#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The bcrypt hashes of `--basic-auth-file`: one per line, as
/// `htpasswd -bnBC 10 "" PASSWORD | tr -d ':\n'` writes them.
///
/// Blank lines and lines starting with `#` are ignored. A line `name:hash`, as in an
/// htpasswd file, is read as its hash: the gateway ignores user names.
struct PasswordFile: Sendable {
    let path: String
    let hashes: [BcryptHash]

    /// Files past this size are refused: a password file is a few lines.
    static let maxBytes = 1 << 20

    static func load(path: String) throws(PasswordFileError) -> PasswordFile {
        func failure(_ reason: String) -> PasswordFileError {
            PasswordFileError(code: .unreadable, path: path, line: nil, message: "cannot read the password file: \(reason)")
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure(String(cString: strerror(errno))) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw failure(String(cString: strerror(errno)))
            }
            if count == 0 { break }
            bytes += chunk[..<count]
            if bytes.count > maxBytes { throw failure("larger than \(maxBytes) bytes; is this the right file?") }
        }
        return try parse(String(decoding: bytes, as: UTF8.self), path: path)
    }

    static func parse(_ text: String, path: String) throws(PasswordFileError) -> PasswordFile {
        var hashes: [BcryptHash] = []
        var number = 0
        // Split on bytes: as Characters, "\r\n" is one grapheme that is not "\n".
        for rawLine in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            number += 1
            let line = Substring(rawLine).trimmingWhitespace
            if line.isEmpty || line.first == "#" { continue }
            var field = line
            if line.first != "$", let colon = line.firstIndex(of: ":") {
                field = line[line.index(after: colon)...]
            }
            do {
                hashes.append(try BcryptHash(field))
            } catch {
                throw PasswordFileError(code: .malformedLine, path: path, line: number, message: error.message)
            }
        }
        guard !hashes.isEmpty else {
            throw PasswordFileError(
                code: .empty, path: path, line: nil,
                message: "the password file holds no bcrypt hash, so every push would be refused; "
                    + "add one with: htpasswd -bnBC 10 \"\" PASSWORD | tr -d ':\\n' >> \(path)")
        }
        return PasswordFile(path: path, hashes: hashes)
    }
}

extension Substring {
    /// Without leading and trailing spaces, tabs and carriage returns (files edited on Windows).
    fileprivate var trimmingWhitespace: Substring {
        var s = self
        while let c = s.first, c == " " || c == "\t" || c == "\r" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" || c == "\r" { s.removeLast() }
        return s
    }
}
