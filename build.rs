//! Records build facts for `shelfwarden --version` and `doctor`'s version-age check. Reads only
//! the environment: no git invocation and no network, so builds stay reproducible
//! (`SOURCE_DATE_EPOCH` pins the date) and work from a source tarball.

use std::time::{SystemTime, UNIX_EPOCH};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=Cargo.toml");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    println!("cargo:rerun-if-env-changed=GIT_HASH");
    let epoch = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0)
        });
    let (y, m, d) = civil_from_days(epoch.div_euclid(86_400));
    let hash = std::env::var("GIT_HASH")
        .ok()
        .map(|h| h.trim().chars().take(12).collect::<String>())
        .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_alphanumeric()))
        .unwrap_or_else(|| "unknown".into());
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".into());
    println!("cargo:rustc-env=SHELFWARDEN_BUILD_EPOCH={epoch}");
    println!("cargo:rustc-env=SHELFWARDEN_BUILD_DATE={y:04}-{m:02}-{d:02}");
    println!("cargo:rustc-env=SHELFWARDEN_GIT_HASH={hash}");
    println!("cargo:rustc-env=SHELFWARDEN_TARGET={target}");
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm); a build
/// script has no date crate and this is all it needs.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}
