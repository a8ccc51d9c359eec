// Auxiliary router losses as pure functions of the router's outputs (kept apart from moe.ts so they can be
// checked by hand): the Switch Transformer load-balancing loss (Fedus et al. 2021, eqs. 4–6) and the
// ST-MoE router z-loss (Zoph et al. 2022, eq. 5).

import * as tf from '@tensorflow/tfjs';

/**
 * Switch eq. 4: loss = α · N · Σᵢ fᵢ · Pᵢ, where
 *   eq. 5: fᵢ = (1/T) Σₓ 1{argmax p(x) = i}  — fraction of tokens whose top-1 choice is expert i (before capacity),
 *   eq. 6: Pᵢ = (1/T) Σₓ pᵢ(x)               — mean router probability for expert i.
 * fᵢ is not differentiable; the gradient flows through Pᵢ. Equals α when routing is perfectly uniform.
 * probs: [T, N] router softmax; top1: [T] top-1 expert per token.
 */
export function switchLoadBalancingLoss(probs: tf.Tensor2D, top1: Int32Array | number[], alpha: number): tf.Scalar {
  return tf.tidy(() => {
    const [T, N] = probs.shape;
    const f = new Float32Array(N);
    for (const e of top1) f[e] += 1 / T;
    const P = probs.mean(0); // [N]
    return tf.sum(P.mul(tf.tensor1d(f))).mul(alpha * N) as tf.Scalar;
  });
}

/** ST-MoE eq. 5: L_z = w · (1/T) Σₓ (log Σⱼ exp zⱼ(x))². logits: [T, N]. Penalises large router logits. */
export function routerZLoss(logits: tf.Tensor2D, weight: number): tf.Scalar {
  return tf.tidy(() => tf.logSumExp(logits, 1).square().mean().mul(weight) as tf.Scalar);
}
