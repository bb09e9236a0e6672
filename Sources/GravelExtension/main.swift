import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// gravel-extension: read the environment, build the app, run it until SHUTDOWN.
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
do {
    let config = try Config(environment: environment, extensionName: name)
    exit(ExtensionApp(config: config, logger: logger).run())
} catch {
    exit(ExtensionApp.runIdle(environment: environment, extensionName: name, error: error, logger: logger))
}
