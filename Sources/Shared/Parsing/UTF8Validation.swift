/// UTF-8 validation on raw bytes, fast for ASCII.
enum UTF8Validation {
    static func isValid(_ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        var i = 0
        while i < n {
            let b0 = p[i]
            if b0 < 0x80 {
                i += 1
                continue
            }
            let length: Int
            var lowerBound: UInt8 = 0x80, upperBound: UInt8 = 0xBF
            switch b0 {
            case 0xC2...0xDF: length = 2
            case 0xE0:
                length = 3
                lowerBound = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED:
                length = 3
                upperBound = 0x9F
            case 0xF0:
                length = 4
                lowerBound = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4:
                length = 4
                upperBound = 0x8F
            default: return false
            }
            guard i + length <= n else { return false }
            let b1 = p[i + 1]
            guard b1 >= lowerBound && b1 <= upperBound else { return false }
            for k in 2..<max(2, length) where p[i + k] & 0xC0 != 0x80 { return false }
            i += length
        }
        return true
    }
}
