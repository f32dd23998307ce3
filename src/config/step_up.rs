//! `C1BOT_STEP_UP_KEY`: the key that seals step-up secrets at rest. Owns its parsing
//! and keeps it from ever printing; sealing itself is `crate::app::shared::seal`.

use std::fmt;

use base64::Engine;

use super::{invalid, ConfigError, Origin};

pub const C1BOT_STEP_UP_KEY: &str = "C1BOT_STEP_UP_KEY";

/// 32 random bytes (ChaCha20-Poly1305's key), given base64-encoded. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct StepUpKey([u8; 32]);

impl StepUpKey {
    /// From the variable's text: standard base64 (padded or not) of exactly 32 bytes.
    pub fn parse(text: &str) -> Result<StepUpKey, String> {
        let text = text.trim();
        let engine = base64::engine::general_purpose::GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            base64::engine::general_purpose::GeneralPurposeConfig::new()
                .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
        );
        let bytes = engine
            .decode(text)
            .map_err(|_| "must be base64 (e.g. the output of `openssl rand -base64 32`)")?;
        let key: [u8; 32] = bytes.try_into().map_err(|bytes: Vec<u8>| {
            format!(
                "must hold 32 bytes (`openssl rand -base64 32`), not {}",
                bytes.len()
            )
        })?;
        Ok(StepUpKey(key))
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for StepUpKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StepUpKey(redacted)")
    }
}

/// The key, if the variable is set; a set variable that does not parse is an error.
pub(super) fn step_up_key(
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<StepUpKey>, ConfigError> {
    var(C1BOT_STEP_UP_KEY)
        .filter(|text| !text.trim().is_empty())
        .map(|text| StepUpKey::parse(&text).map_err(|e| invalid(Origin::Env(C1BOT_STEP_UP_KEY), e)))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base64_key_of_32_bytes_parses_and_never_prints() {
        let key = StepUpKey::parse(&"A".repeat(43)).expect("32 bytes, unpadded");
        assert_eq!(key.bytes(), &[0u8; 32]);
        assert_eq!(format!("{key:?}"), "StepUpKey(redacted)");
        assert!(StepUpKey::parse(&format!("{}=", "A".repeat(43))).is_ok());
    }

    #[test]
    fn a_short_or_non_base64_key_is_refused_with_what_to_do() {
        let short = StepUpKey::parse("AAAA").expect_err("3 bytes");
        assert!(short.contains("32 bytes"), "{short}");
        let garbage = StepUpKey::parse("not base64 at all!").expect_err("not base64");
        assert!(garbage.contains("openssl rand"), "{garbage}");
    }
}
