import Shared

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The standard `process_*` metrics every Prometheus client exposes, read from `/proc` at
/// scrape time, under the names dashboards and alerts already use.
///
/// Linux only: elsewhere `current()` answers nil and the scrape leaves them out.
struct ProcessMetrics: Equatable {
    var cpuSeconds: Double
    var residentBytes: Double
    var virtualBytes: Double
    var startTimeSeconds: Double
    var openFDs: Double
    var maxFDs: Double?

    /// Reads the current values of this process.
    static func current() -> ProcessMetrics? {
        #if os(Linux)
        guard let stat = readFile("/proc/self/stat"), let systemStat = readFile("/proc/stat") else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
        guard var metrics = parse(stat: stat, systemStat: systemStat, ticksPerSecond: ticks, pageSize: pageSize) else { return nil }
        metrics.openFDs = Double(countEntries("/proc/self/fd"))
        var limit = rlimit()
        if getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max {
            metrics.maxFDs = Double(limit.rlim_cur)
        }
        return metrics
        #else
        return nil
        #endif
    }

    /// Parses `/proc/self/stat` (utime, stime, starttime, vsize, rss after the command in
    /// parentheses, which may itself hold spaces and parentheses) and `btime` of `/proc/stat`.
    static func parse(stat: [UInt8], systemStat: [UInt8], ticksPerSecond: Double, pageSize: Double) -> ProcessMetrics? {
        guard let close = stat.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        // Fields after the command start at field 3 (state); utime is field 14.
        let fields = stat[(close + 1)...].split(separator: UInt8(ascii: " ")).map { String(decoding: $0, as: UTF8.self) }
        func field(_ number: Int) -> Double? {
            let index = number - 3
            guard fields.indices.contains(index) else { return nil }
            return Double(fields[index].trimmingTrailingNewline)
        }
        guard let utime = field(14), let stime = field(15), let start = field(22), let vsize = field(23), let rss = field(24),
            let bootTime = bootTime(systemStat)
        else { return nil }
        return ProcessMetrics(
            cpuSeconds: (utime + stime) / ticksPerSecond, residentBytes: rss * pageSize, virtualBytes: vsize,
            startTimeSeconds: bootTime + start / ticksPerSecond, openFDs: 0, maxFDs: nil)
    }

    static func bootTime(_ systemStat: [UInt8]) -> Double? {
        for line in systemStat.split(separator: 0x0A) where line.starts(with: "btime ".utf8) {
            return Double(String(decoding: line.dropFirst(6), as: UTF8.self))
        }
        return nil
    }

    /// Writes the metrics, leaving out those whose name `skipping` claims.
    func render<W: ScrapeWriter>(into writer: inout W, skipping: (String) -> Bool = { _ in false }) {
        func one(_ name: String, _ type: MetricType, _ help: String, _ value: Double) {
            guard !skipping(name) else { return }
            let names = writer.names(family: name, type: type)
            writer.writeHeader(metadataName: names.metadata, type: type, help: help)
            writer.writeSeries(name: names.sample, type: type, key: .empty, value: .scalar(value))
        }
        one("process_cpu_seconds_total", .counter, "Total user and system CPU time spent in seconds.", cpuSeconds)
        if let maxFDs { one("process_max_fds", .gauge, "Maximum number of open file descriptors.", maxFDs) }
        one("process_open_fds", .gauge, "Number of open file descriptors.", openFDs)
        one("process_resident_memory_bytes", .gauge, "Resident memory size in bytes.", residentBytes)
        one("process_start_time_seconds", .gauge, "Start time of the process since unix epoch in seconds.", startTimeSeconds)
        one("process_virtual_memory_bytes", .gauge, "Virtual memory size in bytes.", virtualBytes)
    }

    #if os(Linux)
    /// A whole small file; `/proc` files report size 0, so read until EOF.
    static func readFile(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return n == 0 ? out : nil }
            out.append(contentsOf: chunk[0..<n])
        }
    }

    static func countEntries(_ directory: String) -> Int {
        guard let dir = opendir(directory) else { return 0 }
        defer { closedir(dir) }
        var count = 0
        while let entry = readdir(dir) {
            let isDot = withUnsafeBytes(of: entry.pointee.d_name) { name in
                name[0] == UInt8(ascii: ".") && (name[1] == 0 || (name[1] == UInt8(ascii: ".") && name[2] == 0))
            }
            if !isDot { count += 1 }
        }
        // The directory stream itself holds one descriptor while we count.
        return max(0, count - 1)
    }
    #endif
}

extension String {
    fileprivate var trimmingTrailingNewline: Substring {
        var text = self[...]
        while text.last == "\n" { text = text.dropLast() }
        return text
    }
}
