// The model folder's public surface: config, GPT, generation, MoE routing types and losses, safetensors.
export * from './config.js';
export { GPT, seededRandom, type ForwardOptions, type ForwardResult, type LossResult } from './gpt.js';
export { generate, sampleToken, type GenerateOptions, type GenerateResult } from './generate.js';
export { MoE, domainPosterior, type RoutingInfo, type MoEContext } from './moe.js';
export { switchLoadBalancingLoss, routerZLoss } from './moe-loss.js';
export { balancedAssignment } from './auction.js';
export type { KVEntry } from './attention.js';
export * from './safetensors.js';
