/// Why a pushed body was refused: a code, a message a person can act on, and where.
public struct ExpositionError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case syntax
        case invalidName
        case invalidLabel
        case invalidValue
        case invalidTimestamp
        case invalidUTF8
        case duplicateLabel
        case typeMismatch
        case invalidClearMode
        case invalidHistogram
        case invalidSummary
        case negativeCounter
        case metadata
        /// A series is over one of ``ParseLimits`` (labels, label bytes, buckets, quantiles).
        case limitExceeded
        /// The push would write out to more than ``ParseLimits/maxExpandedBytes``.
        case tooLarge
    }

    public let code: Code
    public let message: String
    /// 1-based line of the body; 0 when the error is not tied to one line.
    public let line: Int
    /// 1-based byte column in that line; 0 when unknown.
    public let column: Int

    public init(_ code: Code, _ message: String, line: Int, column: Int = 0) {
        self.code = code
        self.message = message
        self.line = line
        self.column = column
    }

    public var description: String {
        if line == 0 { return message }
        if column == 0 { return "line \(line): \(message)" }
        return "line \(line), column \(column): \(message)"
    }
}
