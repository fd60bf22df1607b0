// Rotary embedding (HF rotate_half: halves [x1 | x2] of each head vector of width d):
//   y1 = s·(x1·cos − sign·x2·sin),  y2 = s·(x2·cos + sign·x1·sin)
// x: [B, H, T, d] contiguous; cos/sin: [B, T, d/2]. sign = +1 forward; the backward is the same
// kernel with sign = −1 applied to the incoming gradient (rotation by −θ). One thread per pair.
// CPU reference: src/policy/kernel_ref.rs (rotary).
#include <stdint.h>

extern "C" __global__ void rotary_f32(const float* __restrict__ x, const float* __restrict__ cos_t,
                                      const float* __restrict__ sin_t, float* __restrict__ y,
                                      int B, int H, int T, int d, float sign, float scale) {
  const int half = d / 2;
  const size_t n = (size_t)B * H * T * half;
  for (size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x; k < n;
       k += (size_t)gridDim.x * blockDim.x) {
    const int i = k % half;
    const size_t row = k / half;  // (b, h, t)
    const int t = row % T;
    const int b = row / ((size_t)T * H);
    const size_t tab = ((size_t)b * T + t) * half + i;
    const float c = cos_t[tab], s = sign * sin_t[tab];
    const float x1 = x[row * d + i], x2 = x[row * d + half + i];
    y[row * d + i] = scale * (x1 * c - x2 * s);
    y[row * d + half + i] = scale * (x2 * c + x1 * s);
  }
}
