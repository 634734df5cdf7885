//! HMAC over a message given in parts, checked in constant time against signatures
//! in their wire encodings.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    Sha1,
    Sha256,
    Sha512,
}

/// How a signature is written in its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    Hex,
    Base64,
    Base64url,
}

impl Encoding {
    /// The signature's bytes; `None` when it is not in this encoding. Padding is
    /// optional for the base64 kinds (senders differ).
    pub fn decode(self, s: &str) -> Option<Vec<u8>> {
        let s = s.trim();
        match self {
            Encoding::Hex => hex::decode(s).ok(),
            Encoding::Base64 => STANDARD
                .decode(s)
                .or_else(|_| STANDARD_NO_PAD.decode(s))
                .ok(),
            Encoding::Base64url => URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok(),
        }
    }

    pub fn encode(self, bytes: &[u8]) -> String {
        match self {
            Encoding::Hex => hex::encode(bytes),
            Encoding::Base64 => STANDARD.encode(bytes),
            Encoding::Base64url => URL_SAFE_NO_PAD.encode(bytes),
        }
    }
}

fn keyed<M: Mac + hmac::digest::KeyInit>(key: &[u8], parts: &[&[u8]]) -> M {
    // HMAC takes keys of any length, so this cannot fail.
    let mut m = <M as hmac::digest::KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    for p in parts {
        m.update(p);
    }
    m
}

/// Whether `signature` is the HMAC of the concatenated `parts` under `key`
/// (constant-time in the signature's content).
pub fn matches(alg: Algorithm, key: &[u8], parts: &[&[u8]], signature: &[u8]) -> bool {
    match alg {
        Algorithm::Sha1 => keyed::<Hmac<sha1::Sha1>>(key, parts)
            .verify_slice(signature)
            .is_ok(),
        Algorithm::Sha256 => keyed::<Hmac<sha2::Sha256>>(key, parts)
            .verify_slice(signature)
            .is_ok(),
        Algorithm::Sha512 => keyed::<Hmac<sha2::Sha512>>(key, parts)
            .verify_slice(signature)
            .is_ok(),
    }
}

/// The HMAC of the concatenated `parts` (for signing, and for tests).
pub fn sign(alg: Algorithm, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    match alg {
        Algorithm::Sha1 => keyed::<Hmac<sha1::Sha1>>(key, parts)
            .finalize()
            .into_bytes()
            .to_vec(),
        Algorithm::Sha256 => keyed::<Hmac<sha2::Sha256>>(key, parts)
            .finalize()
            .into_bytes()
            .to_vec(),
        Algorithm::Sha512 => keyed::<Hmac<sha2::Sha512>>(key, parts)
            .finalize()
            .into_bytes()
            .to_vec(),
    }
}

/// Whether any of `signatures` (already decoded) matches under any of `keys`: the
/// rotation case, every combination tried, each comparison constant-time.
pub fn any_matches<'k>(
    alg: Algorithm,
    keys: impl IntoIterator<Item = &'k [u8]>,
    parts: &[&[u8]],
    signatures: &[Vec<u8>],
) -> bool {
    let mut found = false;
    for key in keys {
        for sig in signatures {
            // No early exit: the time taken does not say which key matched.
            found |= matches(alg, key, parts, sig);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4231_case_2() {
        let sig = sign(
            Algorithm::Sha256,
            b"Jefe",
            &[b"what do ya want ", b"for nothing?"],
        );
        assert_eq!(
            hex::encode(&sig),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(matches(
            Algorithm::Sha256,
            b"Jefe",
            &[b"what do ya want for nothing?"],
            &sig
        ));
        assert!(!matches(
            Algorithm::Sha256,
            b"jefe",
            &[b"what do ya want for nothing?"],
            &sig
        ));
    }

    #[test]
    fn encodings_round_trip_and_accept_either_padding() {
        let bytes = [0xfb, 0xff, 0x01];
        for e in [Encoding::Hex, Encoding::Base64, Encoding::Base64url] {
            assert_eq!(e.decode(&e.encode(&bytes)).unwrap(), bytes);
        }
        assert_eq!(Encoding::Base64url.decode("-_8B").unwrap(), bytes);
        assert_eq!(Encoding::Base64.decode("+/8B").unwrap(), bytes);
        assert!(Encoding::Hex.decode("zz").is_none());
    }
}
