//! The CPU matrix product for decoding from bf16 weights: `y = x·Wᵀ` for `x [m, k]` (f32) and
//! `W [n, k]` held as bf16 (half the bytes of f32), with
//!
//! `y[r, j] = Σ_c bf16(x[r, c]) · bf16(W[j, c])`, summed in f32,
//!
//! where `bf16(·)` rounds an f32 to the nearest bf16 (ties to even): the activations are rounded
//! at the input of each product, as every bf16 inference engine does, and the products of two
//! bf16 numbers are exact in f32, so only the order of the f32 additions differs between the
//! two implementations below.
//!
//! - On x86-64 CPUs with AVX512-BF16 (`vdpbf16ps`: 32 bf16 multiply-adds into 16 f32 lanes per
//!   instruction), a register-tiled kernel. `W` is packed into blocks of 16 output columns in
//!   which 32-bit lane `j` of step `i` holds the pair `(W[j, 2i], W[j, 2i+1])`; the pair
//!   `(x[r, 2i], x[r, 2i+1])` is broadcast to all lanes, so lane `j` accumulates `y[r, j]`
//!   directly (no horizontal sums). A tile is 8 rows × 48 columns (24 accumulators); panels of
//!   48 columns are spread over the rayon threads. An odd `k` is padded with a zero column.
//! - Elsewhere, [`Bf16Matrix::matmul_reference`]: the same rounding, a plain f32 loop. Tests
//!   compare the two on random shapes (`tests/policy_bf16_matmul.rs`).
use rayon::prelude::*;

/// `x` rounded to the nearest bf16 (ties to even); a NaN stays a (quiet) NaN.
pub fn bf16_bits(x: f32) -> u16 {
    let u = x.to_bits();
    if x.is_nan() {
        return ((u >> 16) as u16) | 0x0040;
    }
    let round = 0x7fff + ((u >> 16) & 1);
    (u.wrapping_add(round) >> 16) as u16
}

/// The f32 value of a bf16 bit pattern (exact).
pub fn bf16_value(b: u16) -> f32 {
    f32::from_bits((b as u32) << 16)
}

/// Columns per packed block (one 512-bit vector of f32 outputs).
const BLOCK: usize = 16;
/// Blocks per panel (columns per tile = 48).
const PANEL_BLOCKS: usize = 3;
/// Rows per tile.
const TILE_ROWS: usize = 8;

/// A weight matrix `[n, k]` stored as bf16 pairs, packed for the kernel.
#[derive(Debug, Clone)]
pub struct Bf16Matrix {
    n: usize,
    k: usize,
    /// Pairs per row: `⌈k/2⌉`.
    pairs: usize,
    /// `[⌈n/16⌉ blocks][pairs][16 lanes]`: low half `W[j, 2i]`, high half `W[j, 2i+1]`.
    packed: Vec<u32>,
}

impl Bf16Matrix {
    /// Rounds the row-major f32 matrix `w [n, k]` to bf16 and packs it.
    pub fn from_f32(w: &[f32], n: usize, k: usize) -> Result<Self, String> {
        if w.len() != n * k {
            return Err(format!(
                "bf16 matrix: {} values for a {n} × {k} matrix",
                w.len()
            ));
        }
        // each row as bf16 pairs (vectorised where the CPU can), then every block's 16 rows
        // interleaved step by step
        let pairs = k.div_ceil(2);
        let rows = pack_pairs(w, n, k, pairs);
        let mut packed = vec![0u32; n.div_ceil(BLOCK) * pairs * BLOCK];
        packed
            .par_chunks_mut((pairs * BLOCK).max(1))
            .enumerate()
            .for_each(|(b, blk)| {
                for l in 0..(n - b * BLOCK).min(BLOCK) {
                    let row = &rows[(b * BLOCK + l) * pairs..][..pairs];
                    for (i, &word) in row.iter().enumerate() {
                        blk[i * BLOCK + l] = word;
                    }
                }
            });
        Ok(Self {
            n,
            k,
            pairs,
            packed,
        })
    }

    /// Rounds and packs `Aᵀ` for the row-major f32 matrix `a [k, n]`: then
    /// [`Bf16Matrix::matmul`] computes `x·A` (no transposed copy of `a` is made).
    pub fn from_f32_transposed(a: &[f32], k: usize, n: usize) -> Result<Self, String> {
        if a.len() != n * k {
            return Err(format!(
                "bf16 matrix: {} values for a {k} × {n} matrix",
                a.len()
            ));
        }
        #[cfg(target_arch = "x86_64")]
        if avx512::available_bw() {
            // 16 consecutive elements of rows 2i and 2i+1 of `a` make one packed step
            return Ok(Self::pack(
                n,
                k,
                |j, c| a[c * n + j],
                |b, i| {
                    let (j0, c0) = (b * BLOCK, 2 * i);
                    j0 + BLOCK <= n && c0 + 1 < k
                },
            )
            .fill_transposed_steps(a));
        }
        Ok(Self::pack(n, k, |j, c| a[c * n + j], |_, _| false))
    }

    /// Vectorised steps of [`Bf16Matrix::from_f32_transposed`]: every full step (16 columns
    /// of `a`, two rows) is converted with AVX512-BF16 and interleaved into pairs.
    #[cfg(target_arch = "x86_64")]
    fn fill_transposed_steps(mut self, a: &[f32]) -> Self {
        let (n, k, pairs) = (self.n, self.k, self.pairs);
        self.packed
            .par_chunks_mut((pairs * BLOCK).max(1))
            .enumerate()
            .for_each(|(b, blk)| {
                let j0 = b * BLOCK;
                if j0 + BLOCK > n {
                    return;
                }
                for i in 0..k / 2 {
                    let lo = &a[2 * i * n + j0..2 * i * n + j0 + BLOCK];
                    let hi = &a[(2 * i + 1) * n + j0..(2 * i + 1) * n + j0 + BLOCK];
                    // SAFETY: the CPU has the features (checked by the caller); the slices
                    // hold 16 values each.
                    unsafe { avx512::interleave_pairs(lo, hi, &mut blk[i * BLOCK..][..BLOCK]) };
                }
            });
        self
    }

    /// Packs `W [n, k]` given element by element (`at(j, c)` = `W[j, c]`, in range only),
    /// leaving the steps `(block, pair)` for which `skip` holds to a vectorised pass.
    fn pack(
        n: usize,
        k: usize,
        at: impl Fn(usize, usize) -> f32 + Sync,
        skip: impl Fn(usize, usize) -> bool + Sync,
    ) -> Self {
        let pairs = k.div_ceil(2);
        let blocks = n.div_ceil(BLOCK);
        let mut packed = vec![0u32; blocks * pairs * BLOCK];
        let bits = |j: usize, c: usize| -> u32 {
            if j < n && c < k {
                bf16_bits(at(j, c)) as u32
            } else {
                0
            }
        };
        packed
            .par_chunks_mut((pairs * BLOCK).max(1))
            .enumerate()
            .for_each(|(b, blk)| {
                for i in 0..pairs {
                    if skip(b, i) {
                        continue;
                    }
                    for l in 0..BLOCK {
                        let j = b * BLOCK + l;
                        blk[i * BLOCK + l] = bits(j, 2 * i) | (bits(j, 2 * i + 1) << 16);
                    }
                }
            });
        Self {
            n,
            k,
            pairs,
            packed,
        }
    }

    /// Output columns `n`.
    pub fn rows(&self) -> usize {
        self.n
    }

    /// Input columns `k`.
    pub fn cols(&self) -> usize {
        self.k
    }

    /// `bf16(W[j, c])` as f32.
    pub fn weight(&self, j: usize, c: usize) -> f32 {
        let word = self.packed[((j / BLOCK) * self.pairs + c / 2) * BLOCK + j % BLOCK];
        bf16_value(if c.is_multiple_of(2) {
            word as u16
        } else {
            (word >> 16) as u16
        })
    }

    /// Whether this CPU runs the AVX512-BF16 kernel (otherwise [`Bf16Matrix::matmul`] is the
    /// reference loop).
    pub fn kernel_available() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            avx512::available()
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    fn check(&self, x: &[f32], m: usize) -> Result<(), String> {
        if x.len() != m * self.k {
            return Err(format!(
                "bf16 matmul: {} input values for {m} rows of {} columns",
                x.len(),
                self.k
            ));
        }
        Ok(())
    }

    /// `y [m, n] = x [m, k] · Wᵀ` (formula in the module doc), with the fastest kernel this CPU
    /// has.
    pub fn matmul(&self, x: &[f32], m: usize) -> Result<Vec<f32>, String> {
        self.check(x, m)?;
        #[cfg(target_arch = "x86_64")]
        if avx512::available() {
            let xp = pack_pairs(x, m, self.k, self.pairs);
            // SAFETY: the CPU has the features (checked above); the sizes were checked.
            return Ok(unsafe { self.matmul_avx512(&xp, m) });
        }
        self.matmul_reference(x, m)
    }

    /// The reference: `bf16(x)·bf16(W)` products summed in f32 in column order.
    pub fn matmul_reference(&self, x: &[f32], m: usize) -> Result<Vec<f32>, String> {
        self.check(x, m)?;
        let (n, k) = (self.n, self.k);
        let mut y = vec![0f32; m * n];
        y.par_chunks_mut(n.max(1)).enumerate().for_each(|(r, yr)| {
            let xr: Vec<f32> = x[r * k..(r + 1) * k]
                .iter()
                .map(|&v| bf16_value(bf16_bits(v)))
                .collect();
            for (j, out) in yr.iter_mut().enumerate() {
                *out = xr
                    .iter()
                    .enumerate()
                    .map(|(c, &a)| a * self.weight(j, c))
                    .sum();
            }
        });
        Ok(y)
    }

    #[cfg(target_arch = "x86_64")]
    unsafe fn matmul_avx512(&self, xp: &[u32], m: usize) -> Vec<f32> {
        let n = self.n;
        let blocks = n.div_ceil(BLOCK);
        let panels = blocks.div_ceil(PANEL_BLOCKS);
        let block_stride = self.pairs * BLOCK;
        // every element is written by exactly one tile (the masked stores cover each row's
        // valid columns), so the buffer is not zero-filled first
        let mut y: Vec<f32> = Vec::with_capacity(m * n);
        let out = SendPtr(y.as_mut_ptr());
        let w = SendPtr(self.packed.as_ptr() as *mut u32);
        let x = SendPtr(xp.as_ptr() as *mut u32);
        let pairs = self.pairs;
        (0..panels).into_par_iter().for_each(|p| {
            let b0 = p * PANEL_BLOCKS;
            let nr = (blocks - b0).min(PANEL_BLOCKS);
            let cols = (n - b0 * BLOCK).min(nr * BLOCK);
            let mut r0 = 0;
            while r0 < m {
                let mr = (m - r0).min(TILE_ROWS);
                // SAFETY: tiles write disjoint column ranges of disjoint row ranges of `y`;
                // every read stays inside `packed` (blocks b0..b0+nr) and `xp` (rows r0..r0+mr).
                unsafe {
                    avx512::tile(
                        mr,
                        nr,
                        avx512::Tile {
                            x: x.get().add(r0 * pairs),
                            w: w.get().add(b0 * block_stride),
                            block_stride,
                            pairs,
                            y: out.get().add(r0 * n + b0 * BLOCK),
                            y_stride: n,
                            cols,
                        },
                    )
                };
                r0 += mr;
            }
        });
        // SAFETY: all m·n elements were written above (panels cover 0..n, row tiles 0..m).
        unsafe { y.set_len(m * n) };
        y
    }
}

/// `x [m, k]` as bf16 pairs `[m][pairs]` (low half even column), zero-padded.
fn pack_pairs(x: &[f32], m: usize, k: usize, pairs: usize) -> Vec<u32> {
    let mut xp = vec![0u32; m * pairs];
    if k == 0 {
        return xp;
    }
    xp.par_chunks_mut(pairs)
        .zip(x.par_chunks(k))
        .with_min_len(16)
        .for_each(|(out, row)| {
            let mut done = 0;
            #[cfg(target_arch = "x86_64")]
            if avx512::available() {
                // SAFETY: the CPU has the features; `row` and `out` hold k and ⌈k/2⌉ values.
                done = unsafe { avx512::pack_row(row, out) };
            }
            for (i, o) in out.iter_mut().enumerate().skip(done / 2) {
                let lo = bf16_bits(row[2 * i]) as u32;
                let hi = row.get(2 * i + 1).map_or(0, |&v| bf16_bits(v) as u32);
                *o = lo | (hi << 16);
            }
        });
    xp
}

/// A raw pointer the rayon workers may share (each writes its own disjoint part).
#[derive(Clone, Copy)]
struct SendPtr<T>(*mut T);
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}
impl<T> SendPtr<T> {
    fn get(self) -> *mut T {
        self.0
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;
    use std::mem::transmute;

    pub fn available() -> bool {
        is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bf16")
    }

    /// Rounds the first `32·⌊k/32⌋` values of `row` to bf16 pairs in `out` (the same
    /// rounding as [`super::bf16_bits`] except that subnormal inputs become zero); returns how
    /// many values it converted.
    ///
    /// # Safety
    /// The CPU has AVX512F and AVX512-BF16; `out` holds at least `⌈row.len()/2⌉` values.
    #[target_feature(enable = "avx512f,avx512bf16")]
    pub unsafe fn pack_row(row: &[f32], out: &mut [u32]) -> usize {
        let full = row.len() / 32;
        for c in 0..full {
            let lo = _mm512_loadu_ps(row.as_ptr().add(c * 32));
            let hi = _mm512_loadu_ps(row.as_ptr().add(c * 32 + 16));
            let v: __m512i = transmute(_mm512_cvtne2ps_pbh(hi, lo));
            _mm512_storeu_si512(out.as_mut_ptr().add(c * 16) as *mut _, v);
        }
        full * 32
    }

    /// Whether the CPU also has AVX512BW (16-bit permutes), for [`interleave_pairs`].
    pub fn available_bw() -> bool {
        available() && is_x86_feature_detected!("avx512bw")
    }

    /// `out[l] = bf16(lo[l]) | bf16(hi[l]) << 16` for 16 lanes.
    ///
    /// # Safety
    /// The CPU has AVX512F, AVX512BW and AVX512-BF16; each slice holds at least 16 values.
    #[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
    pub unsafe fn interleave_pairs(lo: &[f32], hi: &[f32], out: &mut [u32]) {
        let l = _mm512_loadu_ps(lo.as_ptr());
        let h = _mm512_loadu_ps(hi.as_ptr());
        // elements 0..16 = bf16(lo), 16..32 = bf16(hi)
        let v: __m512i = transmute(_mm512_cvtne2ps_pbh(h, l));
        let idx = _mm512_set_epi16(
            31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6, 21, 5, 20,
            4, 19, 3, 18, 2, 17, 1, 16, 0,
        );
        let w = _mm512_permutexvar_epi16(idx, v);
        _mm512_storeu_si512(out.as_mut_ptr() as *mut _, w);
    }

    /// One tile's operands.
    pub struct Tile {
        /// First row's pairs; row stride `pairs`.
        pub x: *const u32,
        /// First block of the panel; block stride `block_stride`.
        pub w: *const u32,
        pub block_stride: usize,
        pub pairs: usize,
        /// `y[r0, first column]`; row stride `y_stride`.
        pub y: *mut f32,
        pub y_stride: usize,
        /// Valid output columns of the panel (≤ 16 · blocks).
        pub cols: usize,
    }

    /// `mr` rows (1..=8) × `nr` blocks (1..=3).
    ///
    /// # Safety
    /// The CPU has AVX512F and AVX512-BF16; `t` points at `mr` rows of pairs, `nr` packed blocks
    /// and an output with room for `mr` rows of `t.cols` columns.
    pub unsafe fn tile(mr: usize, nr: usize, t: Tile) {
        match nr {
            1 => rows::<1>(mr, t),
            2 => rows::<2>(mr, t),
            _ => rows::<3>(mr, t),
        }
    }

    unsafe fn rows<const NR: usize>(mr: usize, t: Tile) {
        match mr {
            1 => kernel::<1, NR>(t),
            2 => kernel::<2, NR>(t),
            3 => kernel::<3, NR>(t),
            4 => kernel::<4, NR>(t),
            5 => kernel::<5, NR>(t),
            6 => kernel::<6, NR>(t),
            7 => kernel::<7, NR>(t),
            _ => kernel::<8, NR>(t),
        }
    }

    #[target_feature(enable = "avx512f,avx512bf16")]
    unsafe fn kernel<const MR: usize, const NR: usize>(t: Tile) {
        let mut acc = [[_mm512_setzero_ps(); NR]; MR];
        for i in 0..t.pairs {
            let mut w = [_mm512_setzero_si512(); NR];
            for (v, wv) in w.iter_mut().enumerate() {
                *wv = _mm512_loadu_si512(t.w.add(v * t.block_stride + i * 16) as *const _);
            }
            for (r, acc_r) in acc.iter_mut().enumerate() {
                let xb: __m512bh = transmute(_mm512_set1_epi32(*t.x.add(r * t.pairs + i) as i32));
                for (a, wv) in acc_r.iter_mut().zip(&w) {
                    *a = _mm512_dpbf16_ps(*a, xb, transmute::<__m512i, __m512bh>(*wv));
                }
            }
        }
        for (r, acc_r) in acc.iter().enumerate() {
            for (v, a) in acc_r.iter().enumerate() {
                let c0 = v * 16;
                if c0 >= t.cols {
                    break;
                }
                let valid = (t.cols - c0).min(16);
                let mask: __mmask16 = if valid == 16 {
                    0xffff
                } else {
                    (1u16 << valid) - 1
                };
                _mm512_mask_storeu_ps(t.y.add(r * t.y_stride + c0), mask, *a);
            }
        }
    }
}
