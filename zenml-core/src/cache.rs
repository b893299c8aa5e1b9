//! Cache keys.
//!
//! A step's cache key is xxh3-128 over a versioned, canonical encoding of everything that
//! determines its outputs:
//!
//! 1. the step type's source path and declared version;
//! 2. its code fingerprint (the hash of its impl block's tokens, taken at compile time);
//! 3. its parameters, canonically encoded ([`Params::canonical_bytes`]);
//! 4. for each input, sorted by name: the name and the **content hash** of the artifact it
//!    receives;
//! 5. for each output, sorted by name: the name and its materializer's identity and version;
//! 6. the fingerprint of external data the step reads (a datasource's file), if it declares one.
//!
//! Every field is length-prefixed, so no two different sets of ingredients encode alike. Because
//! inputs enter by content, a re-run upstream step that produces identical bytes leaves its
//! downstream steps cached.

use crate::hash::{Hash128, Hasher};
use crate::param::Params;

/// The encoding's version; bumping it invalidates every cache entry.
const CACHE_KEY_VERSION: u8 = 1;

/// The ingredients of a cache key.
#[derive(Clone, Debug)]
pub struct CacheKeyInput<'a> {
    /// The step type's source path.
    pub source: &'a str,
    /// Its declared version.
    pub version: u32,
    /// Its code fingerprint.
    pub code_fingerprint: Hash128,
    /// Its parameters.
    pub params: &'a Params,
    /// (input name, content hash of the artifact it receives).
    pub inputs: Vec<(&'a str, Hash128)>,
    /// (output name, materializer id, materializer version).
    pub outputs: Vec<(&'a str, &'a str, u32)>,
    /// The fingerprint of external data, if any.
    pub external: Option<Hash128>,
}

impl CacheKeyInput<'_> {
    /// The cache key.
    pub fn key(&self) -> Hash128 {
        let mut h = Hasher::new();
        h.update(b"zenml.cache-key");
        h.update(&[CACHE_KEY_VERSION]);
        h.field(self.source.as_bytes());
        h.update(&self.version.to_le_bytes());
        h.update(&self.code_fingerprint.to_bytes());
        h.field(&self.params.canonical_bytes());

        let mut inputs = self.inputs.clone();
        inputs.sort_by(|a, b| a.0.cmp(b.0));
        h.update(&(inputs.len() as u64).to_le_bytes());
        for (name, hash) in inputs {
            h.field(name.as_bytes());
            h.update(&hash.to_bytes());
        }

        let mut outputs = self.outputs.clone();
        outputs.sort_by(|a, b| a.0.cmp(b.0));
        h.update(&(outputs.len() as u64).to_le_bytes());
        for (name, materializer, version) in outputs {
            h.field(name.as_bytes());
            h.field(materializer.as_bytes());
            h.update(&version.to_le_bytes());
        }

        match self.external {
            Some(x) => {
                h.update(&[1]);
                h.update(&x.to_bytes());
            }
            None => h.update(&[0]),
        }
        h.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::param::Value;

    fn base(params: &Params) -> CacheKeyInput<'_> {
        CacheKeyInput {
            source: "a::Trainer",
            version: 1,
            code_fingerprint: Hash128(7),
            params,
            inputs: vec![("train", Hash128(1)), ("eval", Hash128(2))],
            outputs: vec![("model", "zenml.msgpack", 1)],
            external: None,
        }
    }

    #[test]
    fn each_ingredient_changes_the_key() {
        let p = Params::new().with("lr", Value::Float(0.1));
        let k = base(&p).key();
        let mut c = base(&p);
        c.source = "a::Other";
        assert_ne!(c.key(), k);
        let mut c = base(&p);
        c.version = 2;
        assert_ne!(c.key(), k);
        let mut c = base(&p);
        c.code_fingerprint = Hash128(8);
        assert_ne!(c.key(), k);
        let p2 = Params::new().with("lr", Value::Float(0.2));
        assert_ne!(base(&p2).key(), k);
        let mut c = base(&p);
        c.inputs[0].1 = Hash128(9);
        assert_ne!(c.key(), k);
        let mut c = base(&p);
        c.outputs[0].2 = 2;
        assert_ne!(c.key(), k);
        let mut c = base(&p);
        c.outputs[0].1 = "zenml.json";
        assert_ne!(c.key(), k);
        let mut c = base(&p);
        c.external = Some(Hash128(0));
        assert_ne!(c.key(), k);
        // Swapping which input gets which hash changes the key.
        let mut c = base(&p);
        c.inputs = vec![("train", Hash128(2)), ("eval", Hash128(1))];
        assert_ne!(c.key(), k);
    }

    #[test]
    fn order_does_not_change_the_key() {
        let p = Params::new()
            .with("lr", Value::Float(0.1))
            .with("epochs", Value::Int(3));
        let q = Params::new()
            .with("epochs", Value::Int(3))
            .with("lr", Value::Float(0.1));
        let mut c = base(&q);
        c.inputs.reverse();
        assert_eq!(c.key(), base(&p).key());
    }
}
