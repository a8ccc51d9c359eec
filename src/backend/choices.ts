// The `--backend` values, apart from select.ts so that a command-line parser can name them without
// importing tfjs (half a second of start-up for commands that never compute on a backend).
export type BackendChoice = 'auto' | 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'tensorflow', 'wasm', 'cpu'];
