// Neural-network building blocks shared by the GPT (src/model) and the ViT-VQGAN (src/vqgan): the seeded
// parameter store, affine maps, LayerNorm, and the fused softmax-cross-entropy and GELU.
export { ParamStore, linear, layerNorm } from './params.js';
export { softmaxCrossEntropy, gelu } from './fused.js';
