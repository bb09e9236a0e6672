/// Request text as it may appear in an error message or a log line: cut to a readable
/// length, with control bytes written as escapes, so a 16 MB token or a carriage return
/// sent by a client never reaches a terminal or a log file as it was sent.
public enum ErrorText {
    /// Bytes of a token shown before it is cut.
    public static let maxTokenBytes = 200

    public static func token(_ text: some StringProtocol) -> String {
        var copy = String(text)
        return copy.withUTF8 { token(UnsafeRawBufferPointer($0)) }
    }

    public static func token(_ bytes: UnsafeRawBufferPointer) -> String {
        var cut = min(bytes.count, maxTokenBytes)
        // Never split a UTF-8 sequence: back up over continuation bytes.
        if cut < bytes.count {
            while cut > 0, bytes[cut] & 0xC0 == 0x80 { cut -= 1 }
        }
        var out: [UInt8] = []
        out.reserveCapacity(cut + 24)
        for k in 0..<cut {
            let b = bytes[k]
            if b < 0x20 || b == 0x7F {
                switch b {
                case 0x09: out += [0x5C, UInt8(ascii: "t")]
                case 0x0A: out += [0x5C, UInt8(ascii: "n")]
                case 0x0D: out += [0x5C, UInt8(ascii: "r")]
                default:
                    let digits = Array("0123456789ABCDEF".utf8)
                    out += [0x5C, UInt8(ascii: "x"), digits[Int(b >> 4)], digits[Int(b & 15)]]
                }
            } else {
                out.append(b)
            }
        }
        // Invalid UTF-8 becomes U+FFFD here.
        var text = String(decoding: out, as: UTF8.self)
        if cut < bytes.count { text += "…(\(bytes.count) bytes)" }
        return text
    }

    static func token(_ p: UnsafePointer<UInt8>, _ count: Int) -> String {
        token(UnsafeRawBufferPointer(start: p, count: count))
    }
}
