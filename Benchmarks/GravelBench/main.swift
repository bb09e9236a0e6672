import Shared

/// gravel-bench: CPU benchmarks of the Shared exposition core, and the bodies the HTTP
/// benchmarks push (scripts/bench.sh).
///
///     gravel-bench run [--quick] [--parse-mb N] [--render-series N] [--only parse,push,merge,render]
///     gravel-bench body push | scrape [--families N] [--per-family N] | exposition [--mb N]
///     gravel-bench profile parse|merge-insert|merge-aggregate|render|push [--mb N] [--render-series N] [--pushes N]
///
/// `run` prints JSON on stdout; progress goes to stderr. MB means 10^6 bytes.

struct Options {
    var command = "run"
    var subject = ""
    var quick = false
    var parseMB = 10.0
    var renderSeries = 1_000_000
    var families = 10
    var perFamily = 100
    var pushes = 2000
    var only: Set<String> = ["parse", "push", "merge", "render"]

    init(_ arguments: [String]) {
        var args = arguments.dropFirst()
        if let first = args.first, !first.hasPrefix("-") {
            command = first
            args = args.dropFirst()
        }
        if command != "run", let next = args.first, !next.hasPrefix("-") {
            subject = next
            args = args.dropFirst()
        }
        func value(_ name: String) -> String {
            guard let v = args.popFirst() else { fail("\(name) needs a value") }
            return v
        }
        func number(_ name: String) -> Double {
            guard let v = Double(value(name)), v > 0 else { fail("\(name) takes a positive number") }
            return v
        }
        func integer(_ name: String) -> Int {
            guard let v = Int(value(name)), v > 0 else { fail("\(name) takes a positive integer") }
            return v
        }
        while let arg = args.popFirst() {
            switch arg {
            case "--quick": quick = true
            case "--parse-mb", "--mb": parseMB = number(arg)
            case "--render-series": renderSeries = integer(arg)
            case "--families": families = integer(arg)
            case "--per-family": perFamily = integer(arg)
            case "--pushes": pushes = integer(arg)
            case "--only": only = Set(value(arg).split(separator: ",").map(String.init))
            case "-h", "--help":
                print("usage: gravel-bench run [--quick] [--parse-mb N] [--render-series N] [--only parse,push,merge,render]")
                print("       gravel-bench body push | scrape [--families N] [--per-family N] | exposition [--mb N]")
                print(
                    "       gravel-bench profile parse|merge-insert|merge-aggregate|render|push [--mb N] [--render-series N] [--pushes N]")
                exit(0)
            default: fail("unknown argument \(arg); see --help")
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

let options = Options(CommandLine.arguments)
let nowMs: Int64 = 1_700_000_000_000

switch options.command {
case "body":
    switch options.subject {
    case "push": writeStdout(Generator.pushBody())
    case "scrape": writeStdout(Generator.scrapeBody(families: options.families, perFamily: options.perFamily))
    case "exposition": writeStdout(Generator.exposition(targetBytes: Int(options.parseMB * 1_000_000)))
    default: fail("body takes push, scrape or exposition")
    }
case "profile":
    Profile.run(options)
case "run":
    let report = Run.all(options)
    writeStdout(Array(report.text.utf8))
default:
    fail("unknown command \(options.command); use run, body or profile")
}
