import Synchronization

/// A fixed number of atomic counters in one allocation, for tables of counters indexed
/// by label combinations.
///
/// `Atomic` cannot live in an Array (it is not copyable), so the table owns raw storage.
/// It is Sendable because every access goes through the atomics and the storage lives
/// exactly as long as the object.
final class AtomicCounters: @unchecked Sendable {
    let count: Int
    private let storage: UnsafeMutablePointer<Atomic<Int>>

    init(count: Int) {
        self.count = count
        storage = .allocate(capacity: count)
        for i in 0..<count { (storage + i).initialize(to: Atomic(0)) }
    }

    deinit {
        storage.deinitialize(count: count)
        storage.deallocate()
    }

    func add(_ index: Int, _ amount: Int = 1) {
        storage[index].add(amount, ordering: .relaxed)
    }

    func load(_ index: Int) -> Int {
        storage[index].load(ordering: .relaxed)
    }

    /// Adds to a counter that holds a Double's bit pattern (a histogram's sum).
    func addDouble(_ index: Int, _ amount: Double) {
        var current = storage[index].load(ordering: .relaxed)
        while true {
            let next = Int(bitPattern: UInt((Double(bitPattern: UInt64(UInt(bitPattern: current))) + amount).bitPattern))
            let (exchanged, original) = storage[index].compareExchange(expected: current, desired: next, ordering: .relaxed)
            if exchanged { return }
            current = original
        }
    }

    func loadDouble(_ index: Int) -> Double {
        Double(bitPattern: UInt64(UInt(bitPattern: storage[index].load(ordering: .relaxed))))
    }
}
