// The one place the engine calls OpenBLAS and LAPACK. OpenBLAS is pinned to one thread: the engine splits every
// product over its own workers (row tiles or column blocks), so the two never oversubscribe the cores
// and OpenBLAS's spinning worker threads never compete with ours.
import CBLASShim

/// Version of the engine (reported by benchmarks).
public let engineVersion = "0.2.1"

/// OpenBLAS as the engine uses it: single-threaded `sgemm` called from the engine's own workers.
public enum BLAS {
  private static let pinnedToOneThread: Void = {
    openblas_set_num_threads(1)
  }()

  /// Pins OpenBLAS to one thread (idempotent; every model load calls it).
  ///
  /// This is process-wide: other OpenBLAS users in the same process also run single-threaded.
  package static func prepare() {
    _ = pinnedToOneThread
  }

  /// The OpenBLAS kernel family picked at run time for this CPU (e.g. "Haswell", "Zen", "SkylakeX").
  public static var coreName: String {
    guard let name = openblas_get_corename() else { return "unknown" }
    return String(cString: name)
  }

  /// The OpenBLAS build configuration string (version, threading model, architecture options).
  public static var configuration: String {
    guard let config = openblas_get_config() else { return "unknown" }
    return String(cString: config)
  }

  /// `c[m, n] = a[m, k] · b[n, k]ᵀ + beta · c[m, n]`, row-major, with leading dimensions.
  ///
  /// `b` is a PyTorch-style `[out, in]` weight used through the transpose flag, never repacked.
  @inline(__always)
  static func multiplyTransposed(
    rows m: Int, columns n: Int, inner k: Int,
    _ a: UnsafePointer<Float>, lda: Int,
    _ b: UnsafePointer<Float>, ldb: Int,
    beta: Float,
    into c: UnsafeMutablePointer<Float>, ldc: Int
  ) {
    precondition(m >= 0 && n >= 0 && k >= 0, "multiplyTransposed: negative size m=\(m) n=\(n) k=\(k)")
    precondition(lda >= k && ldb >= k && ldc >= n, "multiplyTransposed: leading dimension too small")
    if m == 0 || n == 0 { return }
    if k == 0 {
      for row in 0..<m {
        let c = c + row * ldc
        for column in 0..<n { c[column] = beta == 0 ? 0 : beta * c[column] }
      }
      return
    }
    cblas_sgemm(
      CblasRowMajor, CblasNoTrans, CblasTrans,
      Int32(m), Int32(n), Int32(k),
      1, a, Int32(lda), b, Int32(ldb),
      beta, c, Int32(ldc))
  }

  /// Least-squares solution `x[n]` of `a · x ≈ b` for row-major `a[m, n]` and `b[m]`, by LAPACK's
  /// SVD-based `dgelsd`: singular values below `rcond` times the largest count as zero, which gives
  /// the minimum-norm solution of a rank-deficient system. Returns `x` and the effective rank; nil
  /// when the SVD does not converge.
  public static func leastSquares(
    _ a: [Double], rows m: Int, columns n: Int, _ b: [Double], rcond: Double
  ) -> (solution: [Double], rank: Int)? {
    precondition(m >= 1 && n >= 1, "leastSquares: empty system \(m)×\(n)")
    precondition(a.count == m * n && b.count == m, "leastSquares: \(a.count) and \(b.count) values for \(m)×\(n)")
    var matrix = a
    // dgelsd overwrites b (max(m, n) rows) with the solution in its first n rows.
    var solution = b + [Double](repeating: 0, count: max(0, n - m))
    var singularValues = [Double](repeating: 0, count: min(m, n))
    var rank: Int32 = 0
    let info = LAPACKE_dgelsd(
      LAPACK_ROW_MAJOR, Int32(m), Int32(n), 1, &matrix, Int32(n), &solution, 1,
      &singularValues, rcond, &rank)
    guard info == 0 else { return nil }
    return (Array(solution.prefix(n)), Int(rank))
  }
}
