// SwiGLU: y = silu(a)·b, silu(a) = a·σ(a).
// Backward: da = g·b·σ(a)·(1 + a·(1 − σ(a))), db = g·silu(a). Elementwise, grid-stride.
// CPU reference: src/policy/kernel_ref.rs (swiglu_*).
#include <stdint.h>

__device__ __forceinline__ float sigmoidf(float a) { return 1.f / (1.f + __expf(-a)); }

extern "C" __global__ void swiglu_fwd_f32(const float* __restrict__ a, const float* __restrict__ b,
                                          float* __restrict__ y, size_t n) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
       i += (size_t)gridDim.x * blockDim.x) {
    const float s = sigmoidf(a[i]);
    y[i] = a[i] * s * b[i];
  }
}

extern "C" __global__ void swiglu_bwd_f32(const float* __restrict__ a, const float* __restrict__ b,
                                          const float* __restrict__ g, float* __restrict__ da,
                                          float* __restrict__ db, size_t n) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
       i += (size_t)gridDim.x * blockDim.x) {
    const float s = sigmoidf(a[i]);
    da[i] = g[i] * b[i] * s * (1.f + a[i] * (1.f - s));
    db[i] = g[i] * a[i] * s;
  }
}
