// The model folder's public surface: config, GPT, generation, MoE routing types and losses, weights files,
// gradient sources (this thread or data-parallel workers), the LM trainer and its loader and checkpoints.
export {
  defaultModelConfig,
  modelPresets,
  parseSetArgs,
  resolveModelConfig,
  isMoELayer,
  type RouterKind,
  type MoEConfig,
  type ModelConfig,
} from './config.js';
export { GPT, type ForwardOptions, type ForwardResult, type LossResult } from './gpt.js';
export { generate, sampleToken, type GenerateOptions, type GenerateResult, type FinishReason } from './generate.js';
export type { BeamHypothesis } from './beam-search.js';
export { MoE, domainPosterior, type RoutingInfo, type MoEContext } from './moe.js';
export { switchLoadBalancingLoss, routerZLoss } from './moe-loss.js';
export { balancedAssignment } from './auction.js';
export type { KVEntry } from './attention.js';
export { saveGPT, loadGPTWeights } from './weights.js';
export { LocalGradients, WorkerGradients, type GradientSource, type BatchGradients } from './gradient-workers.js';
export { train, readRunConfig, type TrainOptions, type TrainResult } from './train.js';
export {
  resolveRunConfig,
  resolveTrainConfig,
  splitSetArgs,
  trainPresets,
  type RunConfig,
  type TrainConfig,
} from './train-config.js';
export { readDataInfo, ShardLoader, LOADER_DEFAULTS, type Batch, type LoaderState, type Row } from './loader.js';
export {
  domainPerplexity,
  type DomainPerplexity,
  type PerplexityOptions,
  type PerplexityReport,
} from './perplexity.js';
export type { DataInfo } from './data-info.js';
export { readInitSource, initRunConfig, type InitSource } from './init-from.js';
export { addExpert, removeExpert } from './experts.js';
export { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
export { loadRun, defaultRunDir, type LoadRunOptions, type LoadedRun } from './load-run.js';
export { exportModelBundle } from './bundle.js';
