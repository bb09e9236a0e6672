/// The version both programs report.
public enum GravelVersion {
    public static let string = "0.1.0"
}
