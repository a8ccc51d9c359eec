// Sharded runs (`--shard I/N`): N machines each preprocess the documents whose stable identity
// (data/document.ts `shardIdentity`: path inside the input, WARC file + record offset + URL, JSONL file
// + line) hashes to I, so every machine reads the same inputs and one WARC feeds all shards. The
// partition depends on nothing but the identity and N: not on the order, the worker count or the seed
// (the train/valid split hashes the identity with the seed, so the two are independent).
// `--shard auto` takes I and N from a job array: Slurm (SLURM_ARRAY_TASK_ID, _MIN, _STEP, _COUNT) or a
// Kubernetes Indexed Job (JOB_COMPLETION_INDEX, with N from --shards since the pod is not told it).
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { HyperlmError } from '../errors.js';

export interface ShardSpec {
  /** This machine's shard, 0-based. */
  index: number;
  /** Number of shards. */
  count: number;
}

/** The shard a document belongs to: sha256 of its identity, first 32 bits, modulo N. */
export function shardOf(identity: string, count: number): number {
  const h = createHash('sha256').update(`shard\u0000${identity}`).digest();
  return h.readUInt32BE(0) % count;
}

/** A shard's own output folder inside `--out`: `DIR/shard-00002-of-00008`. */
export function shardFolder(out: string, shard: ShardSpec): string {
  return join(out, `shard-${String(shard.index).padStart(5, '0')}-of-${String(shard.count).padStart(5, '0')}`);
}

/**
 * Resolves `--shard I/N` or `--shard auto` (with `--shards N` for a Kubernetes Indexed Job, or to
 * check Slurm's count) against the environment. Errors name the flag or variable at fault.
 */
export function resolveShard(
  flag: string,
  shards: number | undefined,
  env: NodeJS.ProcessEnv = process.env,
): ShardSpec {
  if (flag !== 'auto') {
    const m = /^(\d+)\/(\d+)$/.exec(flag);
    if (!m)
      throw new HyperlmError('CLI_BAD_FLAG', `--shard must be I/N (e.g. 0/8) or auto, got ${JSON.stringify(flag)}`);
    const spec = { index: Number(m[1]), count: Number(m[2]) };
    if (shards !== undefined && shards !== spec.count)
      throw new HyperlmError('CLI_BAD_FLAG', `--shard ${flag} says ${spec.count} shards but --shards says ${shards}`);
    return check(spec, `--shard ${flag}`);
  }
  const int = (name: string): number | undefined => {
    const raw = env[name];
    if (raw === undefined || raw === '') return undefined;
    if (!/^\d+$/.test(raw))
      throw new HyperlmError(
        'CLI_BAD_FLAG',
        `--shard auto: ${name}=${JSON.stringify(raw)} is not a non-negative integer`,
      );
    return Number(raw);
  };
  const slurmId = int('SLURM_ARRAY_TASK_ID');
  if (slurmId !== undefined) {
    const count = int('SLURM_ARRAY_TASK_COUNT');
    if (count === undefined)
      throw new HyperlmError(
        'CLI_BAD_FLAG',
        '--shard auto: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not',
      );
    // `--array=1-8` or `--array=0-14:2` number tasks from MIN in steps of STEP.
    const min = int('SLURM_ARRAY_TASK_MIN') ?? 0;
    const step = int('SLURM_ARRAY_TASK_STEP') ?? 1;
    if (step === 0 || (slurmId - min) % step !== 0) {
      throw new HyperlmError(
        'CLI_BAD_FLAG',
        `--shard auto: SLURM_ARRAY_TASK_ID=${slurmId} is not MIN=${min} plus a multiple of STEP=${step}`,
      );
    }
    if (shards !== undefined && shards !== count) {
      throw new HyperlmError('CLI_BAD_FLAG', `--shard auto: SLURM_ARRAY_TASK_COUNT=${count} but --shards ${shards}`);
    }
    return check(
      { index: (slurmId - min) / step, count },
      `--shard auto (SLURM_ARRAY_TASK_ID=${slurmId}, SLURM_ARRAY_TASK_COUNT=${count})`,
    );
  }
  const k8s = int('JOB_COMPLETION_INDEX');
  if (k8s !== undefined) {
    if (shards === undefined)
      throw new HyperlmError(
        'CLI_BAD_FLAG',
        "--shard auto with JOB_COMPLETION_INDEX (Kubernetes Indexed Job) needs --shards N (the Job's completions)",
      );
    return check({ index: k8s, count: shards }, `--shard auto (JOB_COMPLETION_INDEX=${k8s}, --shards ${shards})`);
  }
  throw new HyperlmError(
    'CLI_BAD_FLAG',
    '--shard auto: neither SLURM_ARRAY_TASK_ID (Slurm job array) nor JOB_COMPLETION_INDEX (Kubernetes Indexed Job) is set; pass --shard I/N',
  );
}

function check(spec: ShardSpec, what: string): ShardSpec {
  if (!Number.isSafeInteger(spec.count) || spec.count < 1)
    throw new HyperlmError('CLI_BAD_FLAG', `${what}: the shard count must be ≥ 1`);
  if (!Number.isSafeInteger(spec.index) || spec.index >= spec.count) {
    throw new HyperlmError('CLI_BAD_FLAG', `${what}: shard index ${spec.index} is not in 0..${spec.count - 1}`);
  }
  return spec;
}
