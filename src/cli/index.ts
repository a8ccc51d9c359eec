// Command-line plumbing for scripts/: flag parsing with generated --help, the error-reporting main
// wrapper, and the BENCHMARKS.md section writer the benchmarks share.
export {
  parseCommandLine,
  runMain,
  numberFlag,
  choiceFlag,
  backendFlag,
  helpText,
  COMMON_FLAGS,
  type CommandSpec,
  type FlagSpec,
  type ParsedArgs,
} from './args.js';
export { writeBenchmarkSection, markdownTable, machineLine } from './benchmarks-md.js';
