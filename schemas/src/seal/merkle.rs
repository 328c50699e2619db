//! RFC 6962 Merkle trees over leaf hashes: roots, audit paths, and the
//! compact range the sealer keeps instead of a batch's leaves.

use sha2::{Digest, Sha256};

use super::Hash;

fn node(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The Merkle Tree Hash of `leaves` (already leaf hashes); SHA-256("") when empty.
pub fn merkle_root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node(&merkle_root(&leaves[..k]), &merkle_root(&leaves[k..]))
        }
    }
}

/// The largest power of two smaller than `n` (n ≥ 2).
fn split(n: usize) -> usize {
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// The RFC 6962 audit path of leaf `index` in `leaves`, leaf-most first.
pub fn audit_path(leaves: &[Hash], index: usize) -> Vec<Hash> {
    assert!(index < leaves.len(), "leaf index out of range");
    if leaves.len() == 1 {
        return Vec::new();
    }
    let k = split(leaves.len());
    let (mut path, sibling) = if index < k {
        (audit_path(&leaves[..k], index), merkle_root(&leaves[k..]))
    } else {
        (
            audit_path(&leaves[k..], index - k),
            merkle_root(&leaves[..k]),
        )
    };
    path.push(sibling);
    path
}

/// The root an audit path proves for `leaf` at `index` of a tree of `size`
/// leaves (RFC 9162 §2.1.3.2); `None` when the path has the wrong length.
pub fn root_from_audit_path(leaf: &Hash, index: u64, size: u64, path: &[Hash]) -> Option<Hash> {
    if index >= size {
        return None;
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in path {
        if sn == 0 {
            return None;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    (sn == 0).then_some(r)
}

/// The roots of the perfect subtrees covering the leaves appended so far,
/// largest first: at most 64 hashes whatever the batch size, and enough to
/// compute the batch's Merkle root.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CompactRange {
    size: u64,
    #[serde(with = "hashes_b64")]
    stack: Vec<Hash>,
}

impl CompactRange {
    /// Appends a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let mut h = leaf;
        let mut size = self.size;
        // Merge equal-size subtrees: one per trailing 1-bit of the old size.
        while size & 1 == 1 {
            let left = self.stack.pop().expect("stack matches size bits");
            h = node(&left, &h);
            size >>= 1;
        }
        self.stack.push(h);
        self.size += 1;
    }

    /// Number of leaves appended.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The Merkle Tree Hash of the leaves appended so far.
    pub fn root(&self) -> Hash {
        let mut iter = self.stack.iter().rev();
        match iter.next() {
            None => merkle_root(&[]),
            Some(last) => iter.fold(*last, |acc, left| node(left, &acc)),
        }
    }
}

mod hashes_b64 {
    use serde::{Deserialize, Deserializer, Serializer, de};

    use super::Hash;

    pub fn serialize<S: Serializer>(hashes: &[Hash], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(hashes.iter().map(|h| crate::seal::b64(h)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Hash>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|t| {
                crate::seal::unb64_hash(t)
                    .ok_or_else(|| de::Error::custom("not a base64 SHA-256 hash"))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| crate::seal::leaf_hash(format!("{{\"i\":{i}}}").as_bytes()))
            .collect()
    }

    #[test]
    fn compact_range_root_equals_the_tree_root_for_every_size() {
        for n in 0..70 {
            let l = leaves(n);
            let mut range = CompactRange::default();
            for h in &l {
                range.push(*h);
            }
            assert_eq!(range.root(), merkle_root(&l), "size {n}");
            assert!(range.stack.len() <= 7);
        }
    }

    #[test]
    fn every_audit_path_proves_its_leaf_and_no_other() {
        for n in 1..20 {
            let l = leaves(n);
            let root = merkle_root(&l);
            for i in 0..n {
                let path = audit_path(&l, i);
                assert_eq!(
                    root_from_audit_path(&l[i], i as u64, n as u64, &path),
                    Some(root),
                    "n={n} i={i}"
                );
                let other = (i + 1) % n;
                if other != i {
                    assert_ne!(
                        root_from_audit_path(&l[other], i as u64, n as u64, &path),
                        Some(root)
                    );
                }
                // A path of the wrong length for the size is refused outright.
                assert_eq!(
                    root_from_audit_path(&l[i], i as u64, n as u64 * 4 + 1, &path),
                    None
                );
            }
        }
    }
}
