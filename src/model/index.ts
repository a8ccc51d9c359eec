// The model folder's public surface: config, GPT, generation, MoE routing types and losses, safetensors,
// fused ops, gradient sources (this thread or data-parallel workers) and the flat parameter layout.
export * from './config.js';
export { GPT, seededRandom, type ForwardOptions, type ForwardResult, type LossResult } from './gpt.js';
export { generate, sampleToken, type GenerateOptions, type GenerateResult } from './generate.js';
export { MoE, domainPosterior, type RoutingInfo, type MoEContext } from './moe.js';
export { switchLoadBalancingLoss, routerZLoss } from './moe-loss.js';
export { balancedAssignment } from './auction.js';
export type { KVEntry } from './attention.js';
export * from './safetensors.js';
export { softmaxCrossEntropy, gelu } from './fused.js';
export { LocalGradients, WorkerGradients, type GradientSource, type BatchGradients } from './gradient-workers.js';
export { paramLayout, flatten, assignFlat, flatNorm, type ParamLayout } from './flat-params.js';
