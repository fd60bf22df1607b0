// RMSNorm over rows of width h: r = (mean(x²) + eps)^(-1/2), y = x·r·w.
// Backward: dx = r·(g·w − x·r²·mean(g·w·x)); per-row contributions to dw: g·x·r (summed over rows
// by the caller). One block per row. CPU reference: src/policy/kernel_ref.rs (rmsnorm_*).
#include "common.cuh"

extern "C" __global__ void rmsnorm_fwd_f32(const float* __restrict__ x, const float* __restrict__ w,
                                           float* __restrict__ y, int h, float eps) {
  __shared__ float scratch[32];
  const float* xr = x + (size_t)blockIdx.x * h;
  float* yr = y + (size_t)blockIdx.x * h;
  float ss = 0.f;
  for (int i = threadIdx.x; i < h; i += blockDim.x) ss += xr[i] * xr[i];
  ss = block_sum(ss, scratch);
  const float r = rsqrtf(ss / h + eps);
  for (int i = threadIdx.x; i < h; i += blockDim.x) yr[i] = xr[i] * r * w[i];
}

// dx [rows, h]; dw_rows [rows, h] (g·x·r, to be summed over rows).
extern "C" __global__ void rmsnorm_bwd_f32(const float* __restrict__ x, const float* __restrict__ w,
                                           const float* __restrict__ g, float* __restrict__ dx,
                                           float* __restrict__ dw_rows, int h, float eps) {
  __shared__ float scratch[32];
  const size_t off = (size_t)blockIdx.x * h;
  const float *xr = x + off, *gr = g + off;
  float ss = 0.f, dot = 0.f;
  for (int i = threadIdx.x; i < h; i += blockDim.x) {
    ss += xr[i] * xr[i];
    dot += gr[i] * w[i] * xr[i];
  }
  ss = block_sum(ss, scratch);
  dot = block_sum(dot, scratch);
  const float r = rsqrtf(ss / h + eps);
  const float c = r * r * dot / h;
  for (int i = threadIdx.x; i < h; i += blockDim.x) {
    dx[off + i] = r * (gr[i] * w[i] - xr[i] * c);
    dw_rows[off + i] = gr[i] * xr[i] * r;
  }
}
