// Fused log-softmax + gather + entropy over the vocabulary, for one chunk of rows of logits
// z [rows, V] (f32, row-major; the scorer computes z = h·Wᵀ one chunk at a time, so no
// [tokens × V] tensor ever exists). One block per row. With zs = z·inv_t, m = max zs:
//   lse = m + log Σ exp(zs − m),  p = exp(zs − lse),  E = Σ p·zs
//   out[row] = { zs[tgt] − lse,  lse − E,  lse,  E }            (log-prob, entropy, stats)
// Backward, given g = (g_lp, g_ent) per row and the stats:
//   dz_v = inv_t · ( g_lp·(1[v = tgt] − p_v) − g_ent·p_v·(zs_v − E) )
// CPU reference: src/policy/kernel_ref.rs (logprob_entropy_fwd / _bwd).
#include "common.cuh"

extern "C" __global__ void lpe_fwd_f32(const float* __restrict__ z, const uint32_t* __restrict__ tgt,
                                       float* __restrict__ out, int V, float inv_t) {
  __shared__ float scratch[32];
  const int row = blockIdx.x;
  const float* zr = z + (size_t)row * V;
  float m = -INFINITY;
  for (int v = threadIdx.x; v < V; v += blockDim.x) m = fmaxf(m, zr[v] * inv_t);
  m = block_max(m, scratch);
  float s = 0.f, sz = 0.f;
  for (int v = threadIdx.x; v < V; v += blockDim.x) {
    const float d = zr[v] * inv_t - m;
    const float e = __expf(d);
    s += e;
    sz += e * d;
  }
  s = block_sum(s, scratch);
  sz = block_sum(sz, scratch);
  if (threadIdx.x == 0) {
    const float lse = m + logf(s);
    const float ez = m + sz / s;  // E_p[zs]
    out[4 * row + 0] = zr[tgt[row]] * inv_t - lse;
    out[4 * row + 1] = lse - ez;
    out[4 * row + 2] = lse;
    out[4 * row + 3] = ez;
  }
}

// stats: the [rows, 4] output of lpe_fwd_f32; g: [rows, 2]; dz: [rows, V].
extern "C" __global__ void lpe_bwd_f32(const float* __restrict__ z, const uint32_t* __restrict__ tgt,
                                       const float* __restrict__ stats, const float* __restrict__ g,
                                       float* __restrict__ dz, int V, float inv_t) {
  const int row = blockIdx.x;
  const float lse = stats[4 * row + 2], ez = stats[4 * row + 3];
  const float glp = g[2 * row], gent = g[2 * row + 1];
  const uint32_t t = tgt[row];
  const float* zr = z + (size_t)row * V;
  float* dr = dz + (size_t)row * V;
  for (int v = threadIdx.x; v < V; v += blockDim.x) {
    const float zs = zr[v] * inv_t;
    const float p = __expf(zs - lse);
    const float onehot = (uint32_t)v == t ? 1.f : 0.f;
    dr[v] = inv_t * (glp * (onehot - p) - gent * p * (zs - ez));
  }
}
