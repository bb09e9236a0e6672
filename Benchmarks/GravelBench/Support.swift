#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Timing

extension Duration {
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) * 1e-18
    }
}

/// Times `body` once, in seconds.
@inline(__always)
func time(_ body: () -> Void) -> Double {
    let clock = ContinuousClock()
    let start = clock.now
    body()
    return (clock.now - start).seconds
}

/// Repeated timings of one measurement: warm-up runs are discarded, the rest kept.
struct Samples {
    var values: [Double]

    var best: Double { values.min() ?? .nan }
    var worst: Double { values.max() ?? .nan }
    var median: Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted()
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }

    static func measure(warmup: Int, iterations: Int, _ body: () -> Void) -> Samples {
        for _ in 0..<warmup { body() }
        var values: [Double] = []
        for _ in 0..<iterations { values.append(time(body)) }
        return Samples(values: values)
    }
}

/// Keeps a value alive and observable so the optimiser cannot drop the work behind it.
@inline(never)
func blackHole<T>(_ value: T) {
    withExtendedLifetime(value) {}
}

// MARK: - Process memory

/// A field of /proc/self/status in bytes (`VmRSS`, `VmHWM`), or 0 where there is none.
func procStatusBytes(_ field: String) -> Int {
    guard let f = fopen("/proc/self/status", "r") else { return 0 }
    defer { fclose(f) }
    var line = [CChar](repeating: 0, count: 512)
    while fgets(&line, Int32(line.count), f) != nil {
        let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard text.hasPrefix(field + ":") else { continue }
        let digits = text.dropFirst(field.count + 1).filter { $0.isNumber }
        return (Int(digits) ?? 0) * 1024  // The kernel reports kB.
    }
    return 0
}

#if canImport(Glibc)
/// glibc's `malloc_trim`, declared in malloc.h, which the Glibc module does not export.
@_silgen_name("malloc_trim")
func glibcMallocTrim(_ pad: Int) -> Int32
#endif

/// Gives freed memory back to the system, so RSS deltas measure what is live.
func trimHeap() {
    #if canImport(Glibc)
    _ = glibcMallocTrim(0)
    #endif
}

// MARK: - Files and output

func readFile(_ path: String) -> [UInt8]? {
    guard let f = fopen(path, "rb") else { return nil }
    defer { fclose(f) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
        if n == 0 { break }
        out.append(contentsOf: chunk[0..<n])
    }
    return out
}

/// Writes all of `bytes` to a file descriptor (stdio's streams are global mutable state
/// that strict concurrency refuses).
func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
    bytes.withUnsafeBytes { raw in
        var offset = 0
        while offset < raw.count {
            let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
            if n < 0, errno == EINTR { continue }
            if n <= 0 { break }
            offset += n
        }
    }
}

func writeStdout(_ bytes: [UInt8]) { writeAll(1, bytes) }

func log(_ message: String) { writeAll(2, Array((message + "\n").utf8)) }

func fail(_ message: String) -> Never {
    log("gravel-bench: " + message)
    exit(2)
}

// MARK: - JSON

/// A JSON value with a deterministic writer: keys keep insertion order.
indirect enum JSON {
    case number(Double)
    case int(Int)
    case string(String)
    case bool(Bool)
    case array([JSON])
    case object([(String, JSON)])

    func write(into out: inout String, indent: Int = 0) {
        let pad = String(repeating: "  ", count: indent + 1)
        let closePad = String(repeating: "  ", count: indent)
        switch self {
        case .number(let v):
            if v.isFinite {
                // Four significant decimals are plenty for timings and rates.
                let rounded = (v * 10_000).rounded() / 10_000
                out += rounded == rounded.rounded() && abs(rounded) < 1e15 ? String(Int64(rounded)) : String(rounded)
            } else {
                out += "null"
            }
        case .int(let v): out += String(v)
        case .bool(let v): out += v ? "true" : "false"
        case .string(let s): JSON.quote(s, into: &out)
        case .array(let items):
            if items.isEmpty {
                out += "[]"
                return
            }
            out += "[\n"
            for (i, item) in items.enumerated() {
                out += pad
                item.write(into: &out, indent: indent + 1)
                out += i + 1 < items.count ? ",\n" : "\n"
            }
            out += closePad + "]"
        case .object(let fields):
            if fields.isEmpty {
                out += "{}"
                return
            }
            out += "{\n"
            for (i, (key, value)) in fields.enumerated() {
                out += pad
                JSON.quote(key, into: &out)
                out += ": "
                value.write(into: &out, indent: indent + 1)
                out += i + 1 < fields.count ? ",\n" : "\n"
            }
            out += closePad + "}"
        }
    }

    static func quote(_ s: String, into out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }

    var text: String {
        var out = ""
        write(into: &out)
        return out + "\n"
    }
}

extension Samples {
    /// The timings in milliseconds, and their best and median.
    var json: [(String, JSON)] {
        [
            ("best_ms", .number(best * 1000)),
            ("median_ms", .number(median * 1000)),
            ("worst_ms", .number(worst * 1000)),
            ("runs_ms", .array(values.map { .number($0 * 1000) })),
        ]
    }
}
