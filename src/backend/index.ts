// Compute backends: selection (select.ts), the WASM kernels the published backend lacks or runs
// slowly (wasm-kernels/), the optional system BLAS their matmuls call (blas.ts), and CPU data parallelism over worker threads (data-parallel.ts).
export { selectBackend, BACKEND_CHOICES, type BackendChoice, type SelectedBackend } from './select.js';
export { activeBlas, blasStatus, loadBlas, setBlasEnabled, type Blas } from './blas.js';
export { registerWasmKernels, useShippedWasmKernels, PATCHED_WASM_KERNELS } from './wasm-kernels/register.js';
export { DataParallel, type DataParallelOptions, type GradientsResult, type StepResult } from './data-parallel.js';
export { profileKernels, type KernelProfile, type KernelTime } from './kernel-profile.js';
