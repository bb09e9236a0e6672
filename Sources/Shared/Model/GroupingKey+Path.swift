/// Why a push URL path was refused.
public struct PathError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

extension GroupingKey {
    /// Parses the path of a push request: `/metrics{/<label>/<value>}*`, with
    /// `<label>@base64/<value>` for URL-safe base64 values.
    ///
    /// - Parameters:
    ///   - defaultJob: used as `job` when the path names no job (the extension's
    ///     `GRAVEL_JOB`); `nil` leaves such a group without a job label.
    ///   - utf8Names: label names may be any UTF-8, written `U__`-escaped in the path
    ///     (`U__my_2e_label` for `my.label`), as the Pushgateway's `--push.enable-utf8-names`.
    public init(path rawPath: String, defaultJob: String? = nil, utf8Names: Bool = false) throws(PathError) {
        var path = Substring(rawPath)
        if let q = path.firstIndex(of: "?") { path = path[..<q] }
        guard PushRoute.isPushPath(path) else {
            throw PathError(message: "push paths start with /metrics, got \(ErrorText.token(rawPath))")
        }
        var segments = path.dropFirst("/metrics".count).split(separator: "/", omittingEmptySubsequences: false)
        if segments.first == "" { segments.removeFirst() }
        if segments.last == "", segments.count % 2 == 1 { segments.removeLast() }
        guard segments.count % 2 == 0 else {
            throw PathError(
                message: "the path after /metrics must be label/value pairs; \(ErrorText.token(rawPath)) has an odd number of segments")
        }
        var pairs: [(name: String, value: String)] = []
        var i = 0
        while i < segments.count {
            var name = String(segments[i])
            let encodedValue = String(segments[i + 1])
            var value: String
            if name.hasSuffix("@base64") {
                name.removeLast("@base64".count)
                guard let decoded = Base64URL.decode(encodedValue), let text = String(validating: decoded, as: UTF8.self) else {
                    throw PathError(
                        message:
                            "the value of \(ErrorText.token(name)) is not valid URL-safe base64 of UTF-8 text: \(ErrorText.token(encodedValue))"
                    )
                }
                value = text
            } else {
                guard let decoded = PercentEncoding.decode(encodedValue) else {
                    throw PathError(
                        message:
                            "the value of \(ErrorText.token(name)) is not valid percent-encoded UTF-8: \(ErrorText.token(encodedValue))")
                }
                value = decoded
            }
            if utf8Names {
                name = NameRules.unescapeValues(name)
                if let problem = NameRules.problem(withUTF8LabelName: name.utf8) {
                    throw PathError(message: "invalid label name in path: \(name.isEmpty ? "(empty)" : ErrorText.token(name)): \(problem)")
                }
            } else {
                guard LabelName.isValid(name) else {
                    throw PathError(
                        message:
                            "invalid label name in path: \(name.isEmpty ? "(empty)" : ErrorText.token(name))"
                            + (name.utf8.contains(where: { $0 >= 0x80 || $0 == UInt8(ascii: ".") })
                                ? "; UTF-8 label names need --push.enable-utf8-names and U__ escaping in the path" : ""))
                }
            }
            guard !name.hasPrefix("__") else {
                throw PathError(message: "label names starting with __ are reserved: \(ErrorText.token(name))")
            }
            guard name != ClearMode.labelName else {
                throw PathError(message: "clearmode cannot be a grouping label")
            }
            if name == "job", value.isEmpty {
                throw PathError(message: "the job label must not be empty")
            }
            // Written into every series of the group as it is: the text format has an escape
            // for a newline only, and a carriage return would reach every scraper raw.
            if let control = value.utf8.first(where: { ($0 < 0x20 && $0 != 0x09 && $0 != 0x0A) || $0 == 0x7F }) {
                throw PathError(
                    message:
                        "the value of \(ErrorText.token(name)) contains the control byte \(ErrorText.token(String(decoding: [control], as: UTF8.self)))"
                )
            }
            pairs.append((name, value))
            i += 2
        }
        // Sorted, a repeated name is next to itself: linear after the sort, where a search per
        // label would be quadratic in a long path.
        let names = pairs.map(\.name).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        for k in names.indices.dropFirst() where names[k] == names[k - 1] {
            throw PathError(message: "label \(ErrorText.token(names[k])) appears twice in the path")
        }
        if let defaultJob, !pairs.contains(where: { $0.name == "job" }) {
            pairs.append(("job", defaultJob))
        }
        self.init(labels: pairs)
    }
}

/// Label and metric name rules of the text formats.
public enum LabelName {
    /// `[a-zA-Z_][a-zA-Z0-9_]*`
    public static func isValid(_ name: String) -> Bool { NameRules.isLegacyLabelName(name.utf8) }
}

/// URL-safe base64 (RFC 4648 §5) with optional padding, as the Pushgateway's `@base64` path values use.
public enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        if bytes.isEmpty { return "=" }
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            let b0 = Int(bytes[i]), b1 = i + 1 < bytes.count ? Int(bytes[i + 1]) : 0, b2 = i + 2 < bytes.count ? Int(bytes[i + 2]) : 0
            out.append(alphabet[b0 >> 2])
            out.append(alphabet[((b0 & 3) << 4) | (b1 >> 4)])
            out.append(i + 1 < bytes.count ? alphabet[((b1 & 15) << 2) | (b2 >> 6)] : UInt8(ascii: "="))
            out.append(i + 2 < bytes.count ? alphabet[b2 & 63] : UInt8(ascii: "="))
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes URL-safe (and, leniently, standard) base64; `nil` if malformed.
    public static func decode(_ text: String) -> [UInt8]? {
        var values: [UInt8] = []
        var padding = 0
        for c in text.utf8 {
            let v: UInt8
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): v = c - UInt8(ascii: "A")
            case UInt8(ascii: "a")...UInt8(ascii: "z"): v = c - UInt8(ascii: "a") + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = c - UInt8(ascii: "0") + 52
            case UInt8(ascii: "-"), UInt8(ascii: "+"): v = 62
            case UInt8(ascii: "_"), UInt8(ascii: "/"): v = 63
            case UInt8(ascii: "="):
                padding += 1
                continue
            default: return nil
            }
            if padding > 0 { return nil }
            values.append(v)
        }
        if values.count % 4 == 1 { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(values.count * 3 / 4)
        var i = 0
        while i + 1 < values.count {
            let v0 = values[i], v1 = values[i + 1]
            out.append(v0 << 2 | v1 >> 4)
            if i + 2 < values.count {
                let v2 = values[i + 2]
                out.append((v1 & 15) << 4 | v2 >> 2)
                if i + 3 < values.count { out.append((v2 & 3) << 6 | values[i + 3]) }
            }
            i += 4
        }
        return out
    }
}

/// Percent-encoding of URL path segments.
public enum PercentEncoding {
    /// Decodes `%XX` escapes; `nil` if an escape is malformed or the result is not UTF-8.
    public static func decode(_ text: String) -> String? {
        guard text.utf8.contains(UInt8(ascii: "%")) else { return text }
        var out: [UInt8] = []
        let bytes = Array(text.utf8)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "%") {
                guard i + 2 < bytes.count, let hi = hex(bytes[i + 1]), let lo = hex(bytes[i + 2]) else { return nil }
                out.append(hi << 4 | lo)
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(validating: out, as: UTF8.self)
    }

    public static func encodePathSegment(_ text: String) -> String {
        var out = ""
        for b in text.utf8 {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                let digits = Array("0123456789ABCDEF".utf8)
                out += "%" + String(decoding: [digits[Int(b >> 4)], digits[Int(b & 15)]], as: UTF8.self)
            }
        }
        return out
    }

    private static func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
