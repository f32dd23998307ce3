//! Step-up secrets at rest: sealed with ChaCha20-Poly1305 under the key from
//! `C1BOT_STEP_UP_KEY`, a fresh random nonce per seal, and the person's Slack id as
//! associated data, so a sealed secret copied into another person's record does not
//! open. What is stored is base64 of nonce ++ ciphertext.

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

use crate::config::StepUpKey;

const NONCE_LEN: usize = 12;
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD_NO_PAD;

/// Seals and opens secrets. Cheap to clone; never prints its key.
#[derive(Clone)]
pub struct Sealer {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(redacted)")
    }
}

impl Sealer {
    pub fn new(key: &StepUpKey) -> Sealer {
        Sealer {
            cipher: ChaCha20Poly1305::new(Key::from_slice(key.bytes())),
        }
    }

    /// `secret`, sealed for `user`.
    pub fn seal(&self, user: &str, secret: &[u8]) -> anyhow::Result<String> {
        let nonce: [u8; NONCE_LEN] = rand::random();
        let sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: secret,
                    aad: user.as_bytes(),
                },
            )
            .map_err(|_| anyhow::anyhow!("sealing a step-up secret failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(B64.encode(out))
    }

    /// The secret sealed for `user`; an error if it was sealed under another key or
    /// for someone else, or was changed.
    pub fn open(&self, user: &str, sealed: &str) -> anyhow::Result<Vec<u8>> {
        let bytes = B64
            .decode(sealed)
            .map_err(|_| anyhow::anyhow!("a sealed step-up secret is not base64"))?;
        if bytes.len() <= NONCE_LEN {
            anyhow::bail!("a sealed step-up secret is too short");
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: user.as_bytes(),
                },
            )
            .map_err(|_| {
                anyhow::anyhow!(
                    "a step-up secret does not open with this C1BOT_STEP_UP_KEY (another key, another person, or changed)"
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(fill: u8) -> Sealer {
        let key = base64::engine::general_purpose::STANDARD.encode([fill; 32]);
        Sealer::new(&StepUpKey::parse(&key).expect("key"))
    }

    #[test]
    fn a_sealed_secret_opens_for_its_person_only() {
        let sealer = sealer(7);
        let sealed = sealer.seal("U1", b"twenty bytes secret!").expect("seals");
        assert!(!sealed.contains("twenty"));
        assert_eq!(
            sealer.open("U1", &sealed).expect("opens"),
            b"twenty bytes secret!"
        );
        assert!(
            sealer.open("U2", &sealed).is_err(),
            "another person's record"
        );
    }

    #[test]
    fn another_key_or_a_changed_byte_does_not_open() {
        let sealed = sealer(7).seal("U1", b"secret").expect("seals");
        assert!(sealer(8).open("U1", &sealed).is_err());
        let mut bytes = B64.decode(&sealed).expect("base64");
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(sealer(7).open("U1", &B64.encode(bytes)).is_err());
        assert!(sealer(7).open("U1", "c2hvcnQ").is_err());
    }

    #[test]
    fn two_seals_of_one_secret_differ() {
        let sealer = sealer(1);
        assert_ne!(
            sealer.seal("U1", b"secret").expect("seals"),
            sealer.seal("U1", b"secret").expect("seals")
        );
    }
}
