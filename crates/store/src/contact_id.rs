//! Contact ids for members the store creates: `M-` and 12 characters, such as `M-7Q2K9XDW04HB`.
//!
//! An id is a keyed permutation of a sequence number. The sequence is a counter row in the
//! database (`store_meta.next_member_seq`) that only grows, inside the same transaction as the
//! insert; the key is a random 64-bit salt made once per database by the first migration. So an id
//! is
//! - **unique**: the permutation is a bijection on 60-bit numbers, and no sequence number is used
//!   twice (an id that an administrator already took by hand is skipped);
//! - **stable**: it is stored with the member and never recomputed;
//! - **opaque**: consecutive members get unrelated-looking ids, which reveal neither how many
//!   members there are nor when one joined, and differ between stores.
//!
//! There is no clock, process id or randomness at generation time. The permutation is a 4-round
//! Feistel network over two 30-bit halves with a fixed mixing function written out below, so it
//! gives the same ids on every platform and Rust version. The 60 bits are written in Crockford's
//! base 32 (digits and capitals without I, L, O, U), which survives being read aloud or retyped.

/// What every generated id starts with.
pub(crate) const PREFIX: &str = "M-";

/// Crockford's base-32 alphabet.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Bits in the permuted number: 12 base-32 characters of 5 bits.
const BITS: u32 = 60;
const HALF_BITS: u32 = BITS / 2;
const HALF_MASK: u64 = (1 << HALF_BITS) - 1;
const ROUNDS: u64 = 4;

/// The largest sequence number that has an id: `2^60 - 1`.
pub(crate) const MAX_SEQUENCE: u64 = (1 << BITS) - 1;

/// The contact id for sequence number `seq` in a database with `salt`, or `None` past
/// [`MAX_SEQUENCE`].
pub(crate) fn derive(salt: u64, seq: u64) -> Option<String> {
    if seq > MAX_SEQUENCE {
        return None;
    }
    let mut left = seq >> HALF_BITS;
    let mut right = seq & HALF_MASK;
    for round in 0..ROUNDS {
        let key = mix(salt ^ round.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let next = left ^ (mix(right ^ key) & HALF_MASK);
        left = right;
        right = next;
    }
    let permuted = (left << HALF_BITS) | right;
    let mut id = String::with_capacity(PREFIX.len() + 12);
    id.push_str(PREFIX);
    for i in (0..12).rev() {
        let digit = (permuted >> (5 * i)) & 31;
        // `digit` is below 32 by the mask above, so the index is in range.
        id.push(char::from(ALPHABET[digit as usize]));
    }
    Some(id)
}

/// The SplitMix64 finalizer: a fixed, well-distributed 64-bit mixing function.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    /// Reads an id back to its permuted 60-bit number.
    fn decode(id: &str) -> u64 {
        let body = id.strip_prefix(PREFIX).expect("prefix");
        body.bytes().fold(0, |acc, b| {
            let digit = ALPHABET.iter().position(|&a| a == b).expect("alphabet");
            (acc << 5) | digit as u64
        })
    }

    #[test]
    fn ids_have_the_documented_shape() {
        for seq in [0, 1, 2, 1_000_000, MAX_SEQUENCE] {
            let id = derive(0x0123_4567_89AB_CDEF, seq).expect("in range");
            assert_eq!(id.len(), 14, "{id}");
            assert!(id.starts_with("M-"), "{id}");
            assert!(id[2..].bytes().all(|b| ALPHABET.contains(&b)), "{id}");
        }
        assert_eq!(derive(1, MAX_SEQUENCE + 1), None);
    }

    #[test]
    fn distinct_sequence_numbers_give_distinct_ids() {
        let salt = 0xDEAD_BEEF_F00D_CAFE;
        let mut seen = HashSet::new();
        for seq in 0..100_000 {
            let id = derive(salt, seq).expect("in range");
            assert!(seen.insert(decode(&id)), "seq {seq} repeated {id}");
        }
        // And at the top of the range, where the high half is all ones.
        for seq in MAX_SEQUENCE - 1000..=MAX_SEQUENCE {
            let id = derive(salt, seq).expect("in range");
            assert!(seen.insert(decode(&id)), "seq {seq} repeated {id}");
        }
    }

    #[test]
    fn ids_are_stable_per_salt_and_differ_between_salts() {
        assert_eq!(derive(7, 42), derive(7, 42));
        assert_ne!(derive(7, 42), derive(8, 42));
        // Pinned, so a change to the permutation (which would break uniqueness against ids
        // already stored) cannot go unnoticed.
        assert_eq!(derive(0, 0).as_deref(), Some(PINNED_0_0));
        // Consecutive members do not get consecutive-looking ids.
        let a = derive(7, 1).expect("in range");
        let b = derive(7, 2).expect("in range");
        assert_ne!(a[..10], b[..10], "{a} {b}");
    }

    const PINNED_0_0: &str = "M-DVP8XEZ3N26V";
}
