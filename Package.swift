// swift-tools-version:6.2
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "gravel",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "gravel-gateway", targets: ["GravelGateway"]),
        .executable(name: "gravel-extension", targets: ["GravelExtension"]),
        .library(name: "Shared", targets: ["Shared"]),
        .executable(name: "gravel-bench", targets: ["GravelBench"]),
    ],
    dependencies: [
        // HTTP server for the gateway (TLS through HummingbirdTLS / swift-nio-ssl).
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        // Named directly because the gateway imports NIOSSL (certificate and key loading) and
        // NIOHTTPTypes (a request read-timeout handler); Hummingbird already builds both.
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        // SHA-256 of Authorization headers for the verified-credential cache.
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // zlib through ByteBuffer: gzip request bodies and scrape responses.
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
        // Shrinking property tests on Swift Testing.
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
    ],
    targets: [
        .target(
            name: "Shared",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "CompressNIO", package: "compress-nio"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "GravelGateway",
            dependencies: [
                "Shared",
                "CCrypt",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // bcrypt verification through libcrypt's crypt_rn (libxcrypt); we do not implement bcrypt.
        .systemLibrary(
            name: "CCrypt",
            pkgConfig: "libcrypt",
            providers: [.apt(["libcrypt-dev"])]
        ),
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .executableTarget(
            name: "GravelExtension",
            dependencies: [
                "Shared",
                "CCurl",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "GravelBench",
            dependencies: ["Shared"],
            path: "Benchmarks/GravelBench",
            swiftSettings: strict
        ),
        .testTarget(
            name: "SharedTests",
            dependencies: [
                "Shared",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "GravelExtensionTests",
            dependencies: [
                "GravelExtension",
                "Shared",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "GravelGatewayTests",
            dependencies: [
                "GravelGateway",
                "Shared",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
    ],
    swiftLanguageModes: [.v6]
)

// libFuzzer targets (Fuzz/), only when scripts/fuzz.sh names libFuzzer's no-main runtime in
// GRAVEL_FUZZ_RUNTIME and builds in its own scratch path (.build-fuzz): Shared is compiled
// with the fuzzer's coverage and AddressSanitizer there, and normal builds stay as they are.
if let fuzzRuntime = Context.environment["GRAVEL_FUZZ_RUNTIME"], !fuzzRuntime.isEmpty {
    let sanitized: [SwiftSetting] = [.unsafeFlags(["-sanitize=fuzzer,address"])]
    for target in package.targets where target.name == "Shared" {
        target.swiftSettings = (target.swiftSettings ?? []) + sanitized
    }
    package.targets.append(
        .target(
            name: "FuzzChecks", dependencies: ["Shared"], path: "Fuzz/Checks", swiftSettings: strict + sanitized))
    for name in ["FuzzText", "FuzzProtobuf", "FuzzPath", "FuzzPipeline"] {
        package.targets.append(
            .executableTarget(
                name: name, dependencies: ["FuzzChecks"], path: "Fuzz/\(name)",
                swiftSettings: strict + sanitized + [.unsafeFlags(["-parse-as-library"])],
                linkerSettings: [.unsafeFlags(["-sanitize=address", fuzzRuntime, "-lstdc++"])]))
    }
}
