//! What an import found, wrote and left out; printed as text or JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

/// Per kind: rows found in ABS, and what became of them here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub found: usize,
    pub new: usize,
    pub changed: usize,
    pub unchanged: usize,
    pub skipped: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    New,
    Changed,
    Unchanged,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Skipped {
    pub kind: String,
    pub id: String,
    pub name: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyToReissue {
    pub name: String,
    pub username: String,
    pub is_active: bool,
    pub expires_at: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub source: String,
    pub abs_version: String,
    pub dry_run: bool,
    pub counts: BTreeMap<String, Tally>,
    pub skipped: Vec<Skipped>,
    /// Imported with ABS's bcrypt hash: the strength of a password cannot be judged without it, so
    /// these users are asked to choose a new one after their first login.
    pub must_change_password: Vec<String>,
    /// No password in ABS (OpenID users, a passwordless root): no login until an admin sets one.
    pub without_password: Vec<String>,
    pub api_keys_to_reissue: Vec<KeyToReissue>,
    pub not_imported: Vec<String>,
    pub warnings: Vec<String>,
}

impl Report {
    pub fn tally(&mut self, kind: &str) -> &mut Tally {
        self.counts.entry(kind.to_string()).or_default()
    }

    pub fn found(&mut self, kind: &str, n: usize) {
        self.tally(kind).found += n;
    }

    pub fn record(&mut self, kind: &str, outcome: Outcome) {
        let t = self.tally(kind);
        match outcome {
            Outcome::New => t.new += 1,
            Outcome::Changed => t.changed += 1,
            Outcome::Unchanged => t.unchanged += 1,
        }
    }

    pub fn skip(&mut self, kind: &str, id: &str, name: &str, reason: impl Into<String>) {
        self.tally(kind).skipped += 1;
        self.skipped.push(Skipped {
            kind: kind.into(),
            id: id.into(),
            name: name.into(),
            reason: reason.into(),
        });
    }

    /// New plus changed rows over every kind: 0 when a repeated import had nothing to do.
    pub fn total_written(&self) -> usize {
        self.counts.values().map(|t| t.new + t.changed).sum()
    }

    /// The audit event's details: counts only, never names of secrets.
    pub fn audit_details(&self) -> serde_json::Value {
        serde_json::json!({
            "source": self.source,
            "absVersion": self.abs_version,
            "counts": self.counts,
            "skipped": self.skipped.len(),
            "mustChangePassword": self.must_change_password.len(),
            "apiKeysToReissue": self.api_keys_to_reissue.len(),
        })
    }

    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let mode = if self.dry_run {
            " (dry run: nothing was written)"
        } else {
            ""
        };
        let _ = writeln!(s, "Import from Audiobookshelf {}{mode}", self.abs_version);
        let _ = writeln!(s, "source: {}", self.source);
        let _ = writeln!(
            s,
            "\n{:<20} {:>7} {:>7} {:>7} {:>9} {:>7}",
            "kind", "found", "new", "changed", "unchanged", "skipped"
        );
        for (kind, t) in &self.counts {
            let _ = writeln!(
                s,
                "{kind:<20} {:>7} {:>7} {:>7} {:>9} {:>7}",
                t.found, t.new, t.changed, t.unchanged, t.skipped
            );
        }
        section(
            &mut s,
            "Skipped",
            self.skipped
                .iter()
                .map(|k| format!("{} {} ({}): {}", k.kind, k.name, k.id, k.reason)),
        );
        section(
            &mut s,
            "Must choose a new password after their first login (ABS had no password policy)",
            self.must_change_password.iter().cloned(),
        );
        section(
            &mut s,
            "No password in ABS: cannot log in until an admin sets one (`shelfwarden user passwd NAME`)",
            self.without_password.iter().cloned(),
        );
        section(
            &mut s,
            "API keys not imported: re-issue them here and update the scripts that use them",
            self.api_keys_to_reissue.iter().map(|k| {
                let exp = k
                    .expires_at
                    .and_then(chrono::DateTime::from_timestamp_millis)
                    .map(|t| format!("expires {}", t.format("%Y-%m-%d")))
                    .unwrap_or_else(|| "no expiry".into());
                let state = if k.is_active { "active" } else { "inactive" };
                format!("{} (user {}, {state}, {exp})", k.name, k.username)
            }),
        );
        section(&mut s, "Not imported", self.not_imported.iter().cloned());
        section(&mut s, "Warnings", self.warnings.iter().cloned());
        s
    }
}

fn section(s: &mut String, title: &str, lines: impl Iterator<Item = String>) {
    let lines: Vec<String> = lines.collect();
    if lines.is_empty() {
        return;
    }
    let _ = writeln!(s, "\n{title}:");
    for l in lines {
        let _ = writeln!(s, "  - {l}");
    }
}
