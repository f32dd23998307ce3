//! The step-up check as an interface ([`StepUpCheck`]) and its TOTP implementation
//! (RFC 6238: SHA-1, 6 digits, 30-second steps, one step of clock drift either way,
//! what every authenticator app speaks). A push provider that c1bot calls outbound
//! (Duo Auth API, Okta Verify) fits behind the same trait: it would ignore the code,
//! ask the person's phone, and answer with a counter of its own.

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};
use totp_rs::{Algorithm, TOTP};

use crate::app::decisions::step_up::state::Enrolment;
use crate::app::shared::seal::Sealer;

pub const DIGITS: usize = 6;
pub const STEP_SECS: u64 = 30;
/// Steps either side of now a code may come from (clock drift, typing time).
const SKEW: u8 = 1;
/// The issuer shown in the authenticator app.
pub const ISSUER: &str = "c1bot";

/// One attempt to prove it is the person: who, what they enrolled, the newest
/// counter already used, what they typed, and when.
pub struct Attempt<'a> {
    pub user: &'a str,
    pub enrolment: &'a Enrolment,
    pub last_counter: u64,
    pub code: &'a str,
    pub now: DateTime<Utc>,
}

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Proven; `counter` is recorded so this proof cannot be used again.
    Accepted { counter: u64 },
    /// Not proven: a wrong code.
    Wrong,
    /// A proof already used (a code from a step already accepted).
    Replayed,
    /// The check itself failed (a key that does not open the secret, a provider
    /// down); the person is not at fault, and it is not counted against them.
    Unavailable(String),
}

pub type Checking<'a> = Pin<Box<dyn Future<Output = Verdict> + Send + 'a>>;

/// Verifies one attempt. Object-safe, so a provider is chosen at start-up.
pub trait StepUpCheck: Send + Sync {
    fn verify<'a>(&'a self, attempt: Attempt<'a>) -> Checking<'a>;
}

/// Time-based one-time codes against the person's sealed secret.
#[derive(Debug, Clone)]
pub struct TotpCheck {
    pub sealer: Sealer,
}

impl StepUpCheck for TotpCheck {
    fn verify<'a>(&'a self, attempt: Attempt<'a>) -> Checking<'a> {
        let verdict = match self
            .sealer
            .open(attempt.user, &attempt.enrolment.sealed_secret)
        {
            Ok(secret) => code_verdict(&secret, attempt.code, attempt.last_counter, attempt.now),
            Err(error) => Verdict::Unavailable(format!("{error:#}")),
        };
        Box::pin(std::future::ready(verdict))
    }
}

/// `code` checked against `secret` at `now`: the step it matches, if any, must be
/// newer than `last_counter`.
pub fn code_verdict(secret: &[u8], code: &str, last_counter: u64, now: DateTime<Utc>) -> Verdict {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let Ok(totp) = totp(secret.to_vec(), "") else {
        return Verdict::Unavailable("a stored step-up secret is too short".into());
    };
    if code.len() != DIGITS || !code.chars().all(|c| c.is_ascii_digit()) {
        return Verdict::Wrong;
    }
    let Ok(now) = u64::try_from(now.timestamp()) else {
        return Verdict::Unavailable("the clock is before 1970".into());
    };
    let current = now / STEP_SECS;
    let first = current.saturating_sub(u64::from(SKEW));
    let matched = (first..=current + u64::from(SKEW)).find(|step| {
        let expected = totp.generate(step * STEP_SECS);
        constant_time_eq(expected.as_bytes(), code.as_bytes())
    });
    match matched {
        Some(step) if step <= last_counter => Verdict::Replayed,
        Some(step) => Verdict::Accepted { counter: step },
        None => Verdict::Wrong,
    }
}

/// The TOTP parameters every code and enrolment link uses. `account` labels the
/// entry in the authenticator app.
pub fn totp(secret: Vec<u8>, account: &str) -> Result<TOTP, totp_rs::TotpUrlError> {
    TOTP::new(
        Algorithm::SHA1,
        DIGITS,
        SKEW,
        STEP_SECS,
        secret,
        Some(ISSUER.to_owned()),
        account.to_owned(),
    )
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"12345678901234567890";

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).expect("in range")
    }

    #[test]
    fn the_rfc_6238_sha1_vector_is_accepted_at_its_step() {
        // RFC 6238 appendix B: T = 59 s gives 94287082 (8 digits); 6 digits: 287082.
        assert_eq!(
            code_verdict(SECRET, "287082", 0, at(59)),
            Verdict::Accepted { counter: 1 }
        );
    }

    #[test]
    fn a_code_from_the_next_step_is_accepted_and_one_two_steps_away_is_not() {
        let next = totp(SECRET.to_vec(), "").expect("totp").generate(90);
        assert_eq!(
            code_verdict(SECRET, &next, 0, at(61)),
            Verdict::Accepted { counter: 3 }
        );
        assert_eq!(code_verdict(SECRET, &next, 0, at(31)), Verdict::Wrong);
    }

    #[test]
    fn a_code_at_or_before_the_last_used_step_is_a_replay() {
        assert_eq!(code_verdict(SECRET, "287082", 1, at(59)), Verdict::Replayed);
        assert_eq!(code_verdict(SECRET, "287082", 2, at(59)), Verdict::Replayed);
    }

    #[test]
    fn wrong_short_or_non_digit_codes_are_wrong_and_spaces_are_ignored() {
        assert_eq!(code_verdict(SECRET, "000000", 0, at(59)), Verdict::Wrong);
        assert_eq!(code_verdict(SECRET, "28708", 0, at(59)), Verdict::Wrong);
        assert_eq!(code_verdict(SECRET, "28708x", 0, at(59)), Verdict::Wrong);
        assert_eq!(
            code_verdict(SECRET, " 287 082 ", 0, at(59)),
            Verdict::Accepted { counter: 1 }
        );
    }

    #[test]
    fn a_secret_sealed_under_another_key_is_unavailable_not_wrong() {
        use base64::Engine;
        let key = |fill: u8| {
            crate::config::StepUpKey::parse(
                &base64::engine::general_purpose::STANDARD.encode([fill; 32]),
            )
            .expect("key")
        };
        let sealed = Sealer::new(&key(1)).seal("U1", SECRET).expect("seals");
        let check = TotpCheck {
            sealer: Sealer::new(&key(2)),
        };
        let enrolment = Enrolment {
            sealed_secret: sealed,
            at: at(0),
        };
        let verdict = futures_util::FutureExt::now_or_never(check.verify(Attempt {
            user: "U1",
            enrolment: &enrolment,
            last_counter: 0,
            code: "287082",
            now: at(59),
        }));
        assert!(
            matches!(verdict, Some(Verdict::Unavailable(_))),
            "{verdict:?}"
        );
    }
}
