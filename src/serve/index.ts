// The infill server's public surface: configuration, model loading, the engine (slots, prompt cache,
// batched decoding), the completion text rules and the HTTP server speaking llama.cpp, OpenAI and Ollama.
export { SERVE_DEFAULTS, resolveServeConfig, type ServeConfig } from './config.js';
export { defaultModelPath, loadServedModel, type ServedModel } from './load-model.js';
export {
  InferenceEngine,
  type EngineCounters,
  type EngineOptions,
  type JobRequest,
  type JobResult,
  type JobEnd,
} from './engine.js';
export { CompletionText, type CompletionRules, type StopType } from './completion.js';
export { InfillServer, PROTOCOLS, type InfillServerOptions } from './server.js';
export { OLLAMA_TEMPLATE } from './ollama.js';
