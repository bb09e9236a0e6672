import CCurl
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// gravel-extension: read the environment, build the app, run it until SHUTDOWN.

// One malloc arena: glibc gives every thread that allocates an arena of its own (each costing
// resident pages), and the extension's few threads (two listeners, the flusher, the
// lifecycle) allocate little and rarely at once. It keeps idle RSS within the 15 MB the
// layer promises.
_ = gravel_use_one_malloc_arena()
let environment = ProcessEnvironment.current()
CurlEasy.globalInit()
let level = Config.logLevel(environment)
LoggingSystem.bootstrap { label in
    var handler = StreamLogHandler.standardError(label: label)
    handler.logLevel = level
    return handler
}
let logger = Logger(label: "gravel-extension")
let name = ExecutableName.current()

/// Ends the process without running exit handlers: the flusher thread may still be inside
/// libcurl and OpenSSL after a SHUTDOWN whose deadline cut its last flush short, and
/// OpenSSL's exit-time cleanup under a running handshake crashes the process. Nothing is
/// left to write at this point: logs go to stderr unbuffered, batches to the gateway.
func finish(_ status: Int32) -> Never {
    fflush(nil)  // every open output stream
    _exit(status)
}

do {
    let config = try Config(environment: environment, extensionName: name)
    finish(ExtensionApp(config: config, logger: logger).run())
} catch {
    finish(ExtensionApp.runIdle(environment: environment, extensionName: name, error: error, logger: logger))
}
