#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An open file descriptor with the few calls the log and the snapshots need, each turning
/// `errno` into a ``DurabilityError`` that names the file.
final class DataFile: Sendable {
    let fd: Int32
    let path: String

    init(path: String, flags: Int32, mode: mode_t = 0o644) throws(DurabilityError) {
        let fd = open(path, flags | O_CLOEXEC, mode)
        guard fd >= 0 else { throw .io("cannot open", path: path) }
        self.fd = fd
        self.path = path
    }

    deinit { close(fd) }

    /// Writes everything at `offset`, retrying short writes and interruptions.
    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(DurabilityError) {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw .io("cannot write", path: path)
            }
            if n == 0 { throw .io("cannot write", path: path, errno: ENOSPC) }
            done += n
        }
    }

    func write(_ bytes: [UInt8], at offset: Int) throws(DurabilityError) {
        let result: Result<Void, DurabilityError> = bytes.withUnsafeBytes { raw in
            Result { () throws(DurabilityError) in try write(raw, at: offset) }
        }
        try result.get()
    }

    /// Flushes the data (and the size, when it changed) to the device.
    func syncData() throws(DurabilityError) {
        #if canImport(Darwin)
        let result = fcntl(fd, F_FULLFSYNC)
        #else
        let result = fdatasync(fd)
        #endif
        guard result == 0 else { throw .io("cannot sync", path: path) }
    }

    func sync() throws(DurabilityError) {
        guard fsync(fd) == 0 else { throw .io("cannot sync", path: path) }
    }

    func truncate(to size: Int) throws(DurabilityError) {
        guard ftruncate(fd, off_t(size)) == 0 else { throw .io("cannot truncate", path: path) }
    }

    func size() throws(DurabilityError) -> Int {
        let end = lseek(fd, 0, SEEK_END)
        guard end >= 0 else { throw .io("cannot find the size of", path: path) }
        return Int(end)
    }

    func readAll() throws(DurabilityError) -> [UInt8] {
        let size = try size()
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, size - done, off_t(done)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io("cannot read", path: path)
            }
            if n == 0 { break }
            done += n
        }
        if done < size { bytes.removeLast(size - done) }
        return bytes
    }
}

/// Directory operations of the data directory.
enum DataDirectory {
    /// Creates the directory (and parents) if needed.
    static func create(_ path: String) throws(DurabilityError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            prefix += "/" + part
            if mkdir(prefix, 0o755) != 0, errno != EEXIST { throw .io("cannot create directory", path: prefix) }
        }
    }

    /// File names in the directory.
    static func list(_ path: String) throws(DurabilityError) -> [String] {
        guard let dir = opendir(path) else { throw .io("cannot list", path: path) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != ".", name != ".." { names.append(name) }
        }
        return names
    }

    /// Makes renames, creations and deletions in the directory durable.
    static func sync(_ path: String) throws(DurabilityError) {
        let dir = try DataFile(path: path, flags: O_RDONLY | O_DIRECTORY)
        try dir.sync()
    }

    static func move(_ from: String, _ to: String) throws(DurabilityError) {
        guard rename(from, to) == 0 else { throw .io("cannot rename to \(to):", path: from) }
    }

    static func remove(_ path: String) throws(DurabilityError) {
        guard unlink(path) == 0 || errno == ENOENT else { throw .io("cannot delete", path: path) }
    }
}
