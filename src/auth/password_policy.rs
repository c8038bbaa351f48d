//! Password policy (ASVS 2.1, NIST SP 800-63B): length and guessability, never composition rules.
//! Length counts Unicode code points, as 800-63B asks, so a passphrase in any script is measured
//! fairly. Guessability is zxcvbn's score with the user's own name and username as known words;
//! zxcvbn's dictionaries carry the common and breached passwords, so those score 0 and are refused.

/// Never go below this, whatever the configuration says (ASVS 2.1.1).
pub const MIN_LENGTH_FLOOR: usize = 12;
/// ASVS 2.1.2 asks for at least 64; longer inputs only cost hashing and zxcvbn time.
pub const MAX_LENGTH: usize = 256;
/// zxcvbn score 3: "safely unguessable: moderate protection from offline slow-hash scenario".
pub const MIN_SCORE: u8 = 3;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("password refused: {}", reasons.join(" "))]
pub struct PolicyViolation {
    /// Sentences for the strength meter, most important first.
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    min_length: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            min_length: MIN_LENGTH_FLOOR,
        }
    }
}

/// What the UI's strength meter shows while typing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Strength {
    /// zxcvbn score 0–4.
    pub score: u8,
    pub acceptable: bool,
    pub reasons: Vec<String>,
}

impl PasswordPolicy {
    /// `min_length` can only raise the floor of 12 (and is capped at the maximum).
    pub fn new(min_length: usize) -> PasswordPolicy {
        PasswordPolicy {
            min_length: min_length.clamp(MIN_LENGTH_FLOOR, MAX_LENGTH),
        }
    }

    pub fn min_length(&self) -> usize {
        self.min_length
    }

    /// `user_inputs`: the user's username, display name, email — words an attacker knows.
    pub fn check(&self, password: &str, user_inputs: &[&str]) -> Result<(), PolicyViolation> {
        let s = self.strength(password, user_inputs);
        if s.acceptable {
            Ok(())
        } else {
            Err(PolicyViolation { reasons: s.reasons })
        }
    }

    pub fn strength(&self, password: &str, user_inputs: &[&str]) -> Strength {
        let len = password.chars().count();
        if len > MAX_LENGTH {
            return Strength {
                score: 0,
                acceptable: false,
                reasons: vec![format!(
                    "Use at most {MAX_LENGTH} characters (this one has {len})."
                )],
            };
        }
        let mut reasons = Vec::new();
        if len < self.min_length {
            reasons.push(format!(
                "Use at least {} characters (this one has {len}).",
                self.min_length
            ));
        }
        let inputs = expand_inputs(user_inputs);
        let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let lower = password.to_lowercase();
        if inputs
            .iter()
            .any(|w| w.chars().count() >= 4 && lower.contains(w.as_str()))
        {
            reasons.push("Do not use your name or username in the password.".into());
        }
        let entropy = zxcvbn::zxcvbn(password, &refs);
        let score: u8 = entropy.score().into();
        if score < MIN_SCORE {
            match entropy.feedback() {
                Some(fb) => {
                    let warning = fb.warning().map(|w| w.to_string());
                    match warning {
                        Some(w) if !w.is_empty() => reasons.push(sentence(&w)),
                        _ => reasons.push("This password is too easy to guess.".into()),
                    }
                    reasons.extend(fb.suggestions().iter().map(|s| sentence(&s.to_string())));
                }
                None => reasons.push("This password is too easy to guess.".into()),
            }
            if len >= self.min_length {
                reasons.push("A few unrelated words make a strong, memorable passphrase.".into());
            }
        }
        reasons.dedup();
        Strength {
            score,
            acceptable: reasons.is_empty(),
            reasons,
        }
    }
}

/// Convenience for the default policy.
pub fn check(password: &str, user_inputs: &[&str]) -> Result<(), PolicyViolation> {
    PasswordPolicy::default().check(password, user_inputs)
}

/// Lower-cased inputs plus their parts (`jane.doe@example.org` → `jane`, `doe`, …) so zxcvbn
/// recognises pieces of an email or full name too.
fn expand_inputs(inputs: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for input in inputs {
        let lower = input.trim().to_lowercase();
        if lower.is_empty() {
            continue;
        }
        for part in lower.split(|c: char| !c.is_alphanumeric()) {
            if part.chars().count() >= 3 && !out.iter().any(|o| o == part) {
                out.push(part.to_string());
            }
        }
        if !out.contains(&lower) {
            out.push(lower);
        }
    }
    out
}

fn sentence(s: &str) -> String {
    let t = s.trim();
    if t.ends_with(['.', '!', '?']) {
        t.to_string()
    } else {
        format!("{t}.")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn refuses_weak_passwords_with_reasons() {
        for pw in [
            "password1",
            "correcthorse",
            "Summer2024!",
            "123456789012",
            "aaaaaaaaaaaaaaaa",
        ] {
            let err = check(pw, &["alice"]).expect_err(pw);
            assert!(!err.reasons.is_empty(), "{pw}");
            assert!(err.reasons.iter().all(|r| !r.is_empty()), "{pw}: {err:?}");
        }
        let err = check("password1", &[]).unwrap_err();
        assert!(err.reasons[0].contains("at least 12"), "{err:?}");
    }

    #[test]
    fn accepts_a_long_passphrase() {
        check(
            "violet tractor umbrella quietly hums",
            &["alice", "Alice Example"],
        )
        .unwrap();
        check("correct horse battery staple orbit", &[]).unwrap();
    }

    #[test]
    fn refuses_the_users_own_name() {
        let err = check("margaretthornton1987!", &["mthornton", "Margaret Thornton"]).unwrap_err();
        assert!(err.reasons.iter().any(|r| r.contains("name")), "{err:?}");
    }

    #[test]
    fn length_limits() {
        let long = "x7Q!".repeat(65);
        let err = check(&long, &[]).unwrap_err();
        assert!(err.reasons[0].contains("at most 256"));
        // Code points, not bytes: 12 CJK characters reach the minimum.
        let s = PasswordPolicy::default().strength("猫犬鳥魚馬牛羊豚鶏鹿熊狐", &[]);
        assert!(!s.reasons.iter().any(|r| r.contains("at least")), "{s:?}");
    }

    #[test]
    fn minimum_only_goes_up() {
        assert_eq!(PasswordPolicy::new(8).min_length(), 12);
        assert_eq!(PasswordPolicy::new(16).min_length(), 16);
        let p = PasswordPolicy::new(40);
        assert!(
            p.check("violet tractor umbrella quietly hums", &[])
                .is_err()
        );
    }
}
