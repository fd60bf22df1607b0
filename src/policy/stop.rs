//! Stop strings: incremental detokenisation of a growing row of token ids and detection of the
//! first stop string in the decoded text.
//!
//! Decoding each new token alone breaks characters that span tokens (byte-level BPE), and
//! decoding the whole row each step is quadratic. [`StopScanner`] keeps two offsets into the
//! ids (`prefix`, `read`): it decodes `ids[prefix..]` and `ids[prefix..read]`, appends the
//! difference once it no longer ends in an incomplete character (U+FFFD), and searches only the
//! tail that can contain a new match.
//!
//! A stop string that is itself one token of the vocabulary (`<|im_end|>`, `<|endoftext|>`) is
//! also a stop *id* ([`stop_token_ids`]): special tokens are left out of the decoded text, so
//! the text alone would never show them. This is how an evaluation protocol's stop list
//! (Qwen2.5-Math: strings `</s>`, `<|im_end|>`, `<|endoftext|>`, ids 151645 and 151643 — the
//! ids of the last two in Qwen2's vocabulary) becomes the sampler's settings.
use super::tokenizer::PolicyTokenizer;

/// Turns token ids into text, special tokens left out.
pub trait Detokenize {
    /// Decodes `ids` (skipping special tokens).
    fn detokenize(&self, ids: &[u32]) -> Result<String, String>;
}

impl Detokenize for PolicyTokenizer {
    fn detokenize(&self, ids: &[u32]) -> Result<String, String> {
        self.decode(ids, true).map_err(|e| e.to_string())
    }
}

/// The ids of the stop strings that are single tokens of `tok`'s vocabulary, in order, without
/// duplicates. Generating one of them ends the row as an EOS id does.
pub fn stop_token_ids(tok: &PolicyTokenizer, stops: &[String]) -> Vec<u32> {
    let mut ids = Vec::new();
    for s in stops {
        if let Some(id) = tok.token_to_id(s) {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    ids
}

/// The earliest occurrence of any stop string in `text`: `(byte offset, index into stops)`.
/// Among stops found at the same offset the first listed wins. Searches from byte `from`.
pub fn find_stop(text: &str, stops: &[String], from: usize) -> Option<(usize, usize)> {
    let mut best: Option<(usize, usize)> = None;
    let hay = &text[from..];
    for (k, s) in stops.iter().enumerate() {
        if s.is_empty() {
            continue;
        }
        if let Some(pos) = hay.find(s.as_str()) {
            let pos = pos + from;
            if best.is_none_or(|(b, _)| pos < b) {
                best = Some((pos, k));
            }
        }
    }
    best
}

/// Incremental detokeniser + stop-string matcher for one row.
#[derive(Debug, Clone, Default)]
pub struct StopScanner {
    prefix: usize,
    read: usize,
    text: String,
}

impl StopScanner {
    /// A scanner for an empty row.
    pub fn new() -> Self {
        Self::default()
    }

    /// The text decoded so far (may lag behind by an incomplete character).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Call after each token appended to `ids` (the row's generated ids so far). Returns the
    /// first stop string found, as `(byte offset in the text, index into stops)`.
    pub fn update(
        &mut self,
        ids: &[u32],
        det: &dyn Detokenize,
        stops: &[String],
    ) -> Result<Option<(usize, usize)>, String> {
        let prev = det.detokenize(&ids[self.prefix..self.read])?;
        let full = det.detokenize(&ids[self.prefix..])?;
        if full.ends_with('\u{FFFD}') {
            return Ok(None); // wait for the rest of the character
        }
        if !full.starts_with(&prev) {
            // A decoder whose output is not prefix-stable: re-decode the whole row.
            self.text = det.detokenize(ids)?;
            self.prefix = ids.len();
            self.read = ids.len();
            return Ok(find_stop(&self.text, stops, 0));
        }
        if full.len() <= prev.len() {
            return Ok(None);
        }
        let added = &full[prev.len()..];
        let longest = stops.iter().map(String::len).max().unwrap_or(0);
        let mut from = self.text.len().saturating_sub(longest.saturating_sub(1));
        self.text.push_str(added);
        while !self.text.is_char_boundary(from) {
            from -= 1;
        }
        self.prefix = self.read;
        self.read = ids.len();
        Ok(find_stop(&self.text, stops, from))
    }
}
