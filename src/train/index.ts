// The training kit shared by the LM trainer (src/model/train.ts) and the VQGAN trainer (src/vqgan/train.ts):
// safetensors, flat parameter layouts, AdamW and its schedule, loss-curve plots.
export {
  encodeSafetensors,
  decodeSafetensors,
  writeSafetensors,
  readSafetensors,
  variablesToSafeTensors,
  toHalf,
  fromHalf,
  type SafeTensor,
} from './safetensors.js';
export { paramLayout, flatten, assignFlat, flatNorm, type ParamLayout } from './flat-params.js';
export { AdamW, learningRate, decays, globalNorm, defaultOptimConfig, type OptimConfig } from './optimizer.js';
export { plotLossCurve, lossCurveSvg, type CurvePoint } from './plot.js';
export {
  writeCheckpointDir,
  latestCheckpoint,
  checkpointDirName,
  existingCheckpoint,
  MetricsLog,
  workerCount,
  checkpointDue,
} from './run-folder.js';
export { ReplicaSet, flatParamAccess, sliceRanges } from './replicas.js';
