import FuzzChecks

// libFuzzer's no-main runtime: SwiftPM names this executable's entry point
// `FuzzProtobuf_main`, and the driver is started from it (FuzzDriver).

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    FuzzChecks.protobuf(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

@_cdecl("FuzzProtobuf_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    FuzzDriver.run(argc, argv) { fuzzOne($0, $1) }
}
