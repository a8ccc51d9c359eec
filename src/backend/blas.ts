// An optimized system BLAS (OpenBLAS, BLIS or MKL) for the WASM backend's matmuls, called through the
// koffi FFI straight on the wasm heap (a Float32Array view of WebAssembly memory is passed as a pointer:
// no copies). Why: OpenBLAS's sgemm is several times faster per core than XNNPACK inside tfjs-backend-wasm
// (AVX2 + FMA, which wasm SIMD cannot express), and a transformer step is mostly matmul. Everything else
// stays on the WASM backend; without a BLAS (or with HYPERLM_BLAS=off) the XNNPACK path in
// batch-matmul.ts runs unchanged, so this is an accelerator, never a requirement.
import { HyperlmError } from '../errors.js';

/** cblas_sgemm on float32 views: C = alpha·op(A)·op(B) + beta·C, row-major. */
export type Sgemm = (
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: Float32Array,
  lda: number,
  b: Float32Array,
  ldb: number,
  beta: number,
  c: Float32Array,
  ldc: number,
) => void;

export interface Blas {
  /** Library file that was loaded, e.g. 'libopenblas.so.0'. */
  library: string;
  sgemm: Sgemm;
  /** OpenBLAS: the core whose kernels run, and whether OPENBLAS_CORETYPE chose it. */
  kernels?: string;
}

// Candidates in order: optimized BLAS only — the reference libblas.so.3 would be slower than XNNPACK.
const CANDIDATES = ['libopenblas.so.0', 'libopenblas.so', 'libblis.so.4', 'libmkl_rt.so', 'libopenblas.dylib'];
const CBLAS_ROW_MAJOR = 101;
const CBLAS_NO_TRANS = 111;
const CBLAS_TRANS = 112;

let loaded: { blas: Blas | undefined; why: string } | undefined;
let enabled = true;

interface KoffiLib {
  func(signature: string): (...args: unknown[]) => unknown;
}
interface Koffi {
  load(path: string): KoffiLib;
}

/** The BLAS the matmul kernel uses now, or undefined (not found, or switched off). */
export function activeBlas(): Blas | undefined {
  return enabled ? loaded?.blas : undefined;
}

/** Why BLAS is or is not in use, for the backend's start-up line. */
export function blasStatus(): string {
  if (loaded === undefined) return 'BLAS not probed';
  if (!enabled) return `BLAS switched off in this process (${loaded.why})`;
  return loaded.why;
}

/** Turns the BLAS path on or off at run time (tests and benchmarks compare it with XNNPACK). */
export function setBlasEnabled(on: boolean): void {
  enabled = on;
}

/**
 * Finds and loads a BLAS once per thread. Never throws for a missing library or FFI (that only means
 * XNNPACK runs); throws for HYPERLM_BLAS naming a library that cannot be loaded, since that was asked for.
 * HYPERLM_BLAS: unset/'auto' → try CANDIDATES; 'off' → never; a path → only that library.
 * Threads: one BLAS thread per tfjs backend. CPU parallelism comes from data-parallel workers (one
 * backend per worker_thread), as for plain WASM; a multi-threaded OpenMP BLAS inside several workers
 * would oversubscribe the cores (and libgomp's pool tearing down at exit crashed Node in our tests).
 */
export async function loadBlas(setting = process.env.HYPERLM_BLAS ?? 'auto'): Promise<Blas | undefined> {
  if (loaded !== undefined) return loaded.blas;
  loaded = await probe(setting.trim());
  return loaded.blas;
}

async function probe(setting: string): Promise<{ blas: Blas | undefined; why: string }> {
  if (setting === 'off' || setting === '0') return { blas: undefined, why: 'BLAS off (HYPERLM_BLAS=off)' };
  let koffi: Koffi;
  try {
    koffi = ((await import('koffi')) as unknown as { default: Koffi }).default;
  } catch (err) {
    return {
      blas: undefined,
      why: `no BLAS: the optional koffi FFI is not installed (${(err as Error).message.split('\n')[0]})`,
    };
  }
  const explicit = setting !== '' && setting !== 'auto';
  const tried: string[] = [];
  for (const library of explicit ? [setting] : CANDIDATES) {
    const lib = loadQuietly(koffi, library);
    if (typeof lib === 'string') {
      tried.push(`${library}: ${lib}`);
      continue;
    }
    try {
      const blas = bind(lib, library);
      const kernels = blas.kernels ? `, ${blas.kernels}` : '';
      return { blas, why: `matmuls on ${library} (1 thread${kernels})` };
    } catch (err) {
      tried.push(`${library}: ${(err as Error).message}`);
    }
  }
  if (explicit)
    throw new HyperlmError('BACKEND_UNAVAILABLE', `HYPERLM_BLAS=${setting} could not be loaded: ${tried.join('; ')}`);
  return { blas: undefined, why: `no optimized BLAS found (tried ${CANDIDATES.join(', ')}); matmuls on XNNPACK` };
}

function loadQuietly(koffi: Koffi, library: string): KoffiLib | string {
  // OpenMP builds of OpenBLAS size their thread pool from these variables when the library loads; set
  // them for the load only, so that child processes (e.g. the PyTorch benchmark) keep the user's.
  const saved = {
    OMP_NUM_THREADS: process.env.OMP_NUM_THREADS,
    OPENBLAS_NUM_THREADS: process.env.OPENBLAS_NUM_THREADS,
  };
  process.env.OMP_NUM_THREADS = '1';
  process.env.OPENBLAS_NUM_THREADS = '1';
  try {
    return koffi.load(library);
  } catch (err) {
    return (err as Error).message.split('\n')[0];
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

function bind(lib: KoffiLib, library: string): Blas {
  const raw = lib.func(
    'void cblas_sgemm(int order, int transA, int transB, int M, int N, int K, float alpha, ' +
      'float *A, int lda, float *B, int ldb, float beta, float *C, int ldc)',
  );
  let kernels: string | undefined;
  if (library.includes('openblas')) {
    try {
      lib.func('void openblas_set_num_threads(int n)')(1);
    } catch {
      /* an OpenBLAS without the symbol keeps its environment-configured count (1, set at load) */
    }
    // Which core's kernels OpenBLAS runs moves its speed by ~1.5× on this machine kind (BENCHMARKS.md),
    // and OPENBLAS_CORETYPE overrides its own choice: both go in the start-up line.
    try {
      const core = String((lib.func('const char *openblas_get_corename()') as () => string)());
      const forced = process.env.OPENBLAS_CORETYPE;
      kernels = forced
        ? `${core} kernels, set by OPENBLAS_CORETYPE=${forced}`
        : `${core} kernels, OpenBLAS's own choice`;
    } catch {
      /* an OpenBLAS without openblas_get_corename */
    }
  }
  const sgemm: Sgemm = (transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) => {
    raw(
      CBLAS_ROW_MAJOR,
      transA ? CBLAS_TRANS : CBLAS_NO_TRANS,
      transB ? CBLAS_TRANS : CBLAS_NO_TRANS,
      m,
      n,
      k,
      alpha,
      a,
      lda,
      b,
      ldb,
      beta,
      c,
      ldc,
    );
  };
  return { library, sgemm, kernels };
}
