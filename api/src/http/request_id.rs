//! The request id: taken from an incoming `X-Request-Id` when it is plain,
//! made here otherwise, and echoed on the answer, so one id follows a
//! request through the logs of every hop.

use std::cell::Cell;

/// Header carrying the request id, accepted from the caller or made here.
pub const REQUEST_ID: &str = "x-request-id";

/// Ids from a load balancer or client are kept when they are short and
/// plain, so they cannot forge log lines or bloat them.
pub fn is_sane_request_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// A new request id: 128 bits in hex that look random and never repeat.
///
/// Each thread draws 128 random bits once; its ids are the first half of
/// them followed by a count mixed with the second half through a
/// bijection, so ids are unique without asking the system for randomness
/// on every request, and do not tell how many requests came before.
pub fn new_request_id() -> String {
    thread_local! {
        static STATE: Cell<(u64, u64, u64)> = Cell::new(seed());
    }
    let (prefix, key, count) = STATE.with(|state| {
        let (prefix, key, count) = state.get();
        state.set((prefix, key, count.wrapping_add(1)));
        (prefix, key, count)
    });
    format!("{prefix:016x}{:016x}", mix(count ^ key))
}

/// A thread's random prefix and key, and its count's start.
fn seed() -> (u64, u64, u64) {
    let mut bytes = [0u8; 24];
    // Without randomness the ids are still unique within the thread.
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or_default());
    (word(0), word(8), word(16))
}

/// The finaliser of `SplitMix64`: a bijection on `u64` that scatters nearby
/// inputs.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_kept_only_when_plain() {
        assert!(is_sane_request_id("b3f1c2d4-0000-4e6f-9a1b-123456789abc"));
        assert!(is_sane_request_id("lb.1:abc_DEF"));
        assert!(!is_sane_request_id(""));
        assert!(!is_sane_request_id("two words"));
        assert!(!is_sane_request_id("line\nbreak"));
        assert!(!is_sane_request_id(&"x".repeat(129)));
        let made = new_request_id();
        assert_eq!(made.len(), 32);
        assert!(is_sane_request_id(&made));
    }

    #[test]
    fn made_ids_never_repeat_and_do_not_count_up() {
        let ids: Vec<String> = (0..10_000).map(|_| new_request_id()).collect();
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
        // One thread's ids share their first half; the second half of
        // consecutive ids differs in about half its bits, not in the last.
        assert!(ids.iter().all(|id| id[..16] == ids[0][..16]));
        let halves: Vec<u64> = ids
            .iter()
            .map(|id| u64::from_str_radix(&id[16..], 16).unwrap())
            .collect();
        let changed: u32 = halves.windows(2).map(|w| (w[0] ^ w[1]).count_ones()).sum();
        let pairs = u32::try_from(halves.len() - 1).unwrap();
        assert!(
            (24 * pairs..40 * pairs).contains(&changed),
            "{changed} bits changed over {pairs} pairs of ids"
        );
    }
}
