#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The extension's name for `/extension/register`: its executable's file name.
///
/// Lambda starts every file in /opt/extensions and requires each to register under its own
/// file name, so a copy renamed by a layer or a container image (`COPY … /opt/extensions/x`)
/// must register as `x`. argv[0] is the path Lambda executed. Swift reads it from
/// /proc/self/cmdline, so without /proc (a minimal chroot) the kernel's AT_EXECFN (the path
/// given to execve) stands in, then /proc/self/exe.
package enum ExecutableName {
    package static let fallback = "gravel-extension"

    package static func current() -> String {
        if let name = fileName(of: CommandLine.arguments.first ?? "") { return name }
        #if canImport(Glibc)
        // getauxval is in <sys/auxv.h>, which the Glibc module does not import.
        typealias GetAuxval = @convention(c) (UInt) -> UInt
        if let symbol = dlsym(nil, "getauxval") {
            let getauxval = unsafeBitCast(symbol, to: GetAuxval.self)
            if let execfn = UnsafePointer<CChar>(bitPattern: getauxval(UInt(AT_EXECFN))),
                let name = fileName(of: String(cString: execfn))
            {
                return name
            }
        }
        #endif
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        if n > 0, let name = fileName(of: String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)) {
            return name
        }
        return fallback
    }

    /// The last path component, or `nil` for an empty one.
    package static func fileName(of path: String) -> String? {
        var trimmed = Substring(path)
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        let name = trimmed.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? ""
        return name.isEmpty ? nil : name
    }
}
