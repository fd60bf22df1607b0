//! Key/value cache for incremental decoding: per layer, preallocated buffers
//! `[B, kv_heads, capacity, head_dim]` written in place and grown by doubling.
use candle_core::{Result, Tensor};

/// Cached keys and values of one layer.
#[derive(Debug, Clone, Default)]
pub struct LayerCache {
    k: Option<Tensor>,
    v: Option<Tensor>,
    len: usize,
}

impl LayerCache {
    /// Appends `k, v: [B, kvh, t, d]` and returns views of all cached keys/values
    /// `[B, kvh, len, d]`.
    pub fn append(&mut self, k: &Tensor, v: &Tensor) -> Result<(Tensor, Tensor)> {
        let k = k.detach().contiguous()?;
        let v = v.detach().contiguous()?;
        let t = k.dim(2)?;
        let need = self.len + t;
        let cap = self.k.as_ref().map(|x| x.dim(2)).transpose()?.unwrap_or(0);
        if need > cap {
            let new_cap = need.max(cap * 2).max(64);
            let grow = |old: &Option<Tensor>, like: &Tensor| -> Result<Tensor> {
                let (b, h, _, d) = like.dims4()?;
                let buf = Tensor::zeros((b, h, new_cap, d), like.dtype(), like.device())?;
                if let Some(o) = old {
                    if self.len > 0 {
                        buf.slice_set(&o.narrow(2, 0, self.len)?.contiguous()?, 2, 0)?;
                    }
                }
                Ok(buf)
            };
            let nk = grow(&self.k, &k)?;
            let nv = grow(&self.v, &v)?;
            self.k = Some(nk);
            self.v = Some(nv);
        }
        let (kb, vb) = (self.k.as_ref().unwrap(), self.v.as_ref().unwrap());
        kb.slice_set(&k, 2, self.len)?;
        vb.slice_set(&v, 2, self.len)?;
        self.len = need;
        Ok((kb.narrow(2, 0, need)?, vb.narrow(2, 0, need)?))
    }
}

/// The cache of all layers; `len()` is the number of positions (columns) stored.
#[derive(Debug, Clone)]
pub struct KvCache {
    layers: Vec<LayerCache>,
    len: usize,
}

impl KvCache {
    /// An empty cache for `n_layers` layers.
    pub fn new(n_layers: usize) -> Self {
        Self {
            layers: vec![LayerCache::default(); n_layers],
            len: 0,
        }
    }

    /// Number of cached positions.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The cache of layer `i`.
    pub fn layer_mut(&mut self, i: usize) -> &mut LayerCache {
        &mut self.layers[i]
    }

    /// Records that `t` positions were appended to every layer.
    pub fn advance(&mut self, t: usize) {
        self.len += t;
    }

    /// Drops everything.
    pub fn clear(&mut self) {
        for l in &mut self.layers {
            *l = LayerCache::default();
        }
        self.len = 0;
    }
}
