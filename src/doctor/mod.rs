//! `shelfwarden doctor`: the deployment guide as a command. A [`Snapshot`] gathers the facts (the
//! configuration the server would run with, the process identity, permission bits of the data
//! dir and libraries, a read-only look at the database); [`checks`] turns them into findings
//! without touching anything, so every rule is unit-tested; [`probe`] looks at a running server
//! from outside. The admin API (`GET /api/security/findings`) shows the same findings.

pub mod checks;
pub mod probe;
pub mod snapshot;

use serde::Serialize;

pub use snapshot::Snapshot;

/// Ordered most severe first, so sorting puts what to fix first on top.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    High,
    Medium,
    Low,
    Info,
}

impl Severity {
    pub fn label(self) -> &'static str {
        match self {
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
            Severity::Info => "info",
        }
    }
}

/// One thing doctor noticed. `id` is stable (scripts and tests match on it); `fix` says exactly
/// what to change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub id: &'static str,
    pub severity: Severity,
    pub title: String,
    pub detail: String,
    pub fix: String,
}

impl Finding {
    pub fn new(
        id: &'static str,
        severity: Severity,
        title: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Finding {
        Finding {
            id,
            severity,
            title: title.into(),
            detail: detail.into(),
            fix: fix.into(),
        }
    }
}

/// Every finding for a snapshot, most severe first.
pub fn findings(snapshot: &Snapshot) -> Vec<Finding> {
    let mut all = checks::all(snapshot);
    all.sort_by_key(|f| f.severity);
    all
}

pub fn has_high(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.severity == Severity::High)
}

/// The human report: grouped by severity, each finding with its fix.
pub fn render_human(findings: &[Finding]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    if findings.is_empty() {
        out.push_str("No findings.\n");
        return out;
    }
    for severity in [
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ] {
        let group: Vec<&Finding> = findings.iter().filter(|f| f.severity == severity).collect();
        if group.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "== {} ({}) ==",
            severity.label().to_uppercase(),
            group.len()
        );
        for f in group {
            let _ = writeln!(out, "[{}] {}", f.id, f.title);
            if !f.detail.is_empty() {
                let _ = writeln!(out, "    {}", f.detail);
            }
            if !f.fix.is_empty() {
                let _ = writeln!(out, "    fix: {}", f.fix);
            }
        }
        out.push('\n');
    }
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    let _ = writeln!(
        out,
        "{} high, {} medium, {} low, {} info",
        count(Severity::High),
        count(Severity::Medium),
        count(Severity::Low),
        count(Severity::Info)
    );
    out
}

/// Build facts recorded by build.rs.
#[derive(Debug, Clone, Serialize)]
pub struct BuildInfo {
    pub version: &'static str,
    pub git_hash: &'static str,
    pub build_date: &'static str,
    /// Seconds since the epoch; what the version-age check compares with now.
    pub build_epoch: i64,
    pub target: &'static str,
}

pub fn build_info() -> BuildInfo {
    BuildInfo {
        version: env!("CARGO_PKG_VERSION"),
        git_hash: env!("SHELFWARDEN_GIT_HASH"),
        build_date: env!("SHELFWARDEN_BUILD_DATE"),
        build_epoch: env!("SHELFWARDEN_BUILD_EPOCH").parse().unwrap_or(0),
        target: env!("SHELFWARDEN_TARGET"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_report_groups_by_severity() {
        let f = vec![
            Finding::new("b", Severity::Low, "low one", "", "do b"),
            Finding::new("a", Severity::High, "high one", "why", "do a"),
        ];
        let text = render_human(&f);
        let high = text.find("== HIGH").expect("high group");
        let low = text.find("== LOW").expect("low group");
        assert!(high < low);
        assert!(text.contains("fix: do a"));
        assert!(has_high(&f));
        assert!(!has_high(&f[..1]));
    }
}
