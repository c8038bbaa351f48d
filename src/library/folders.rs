//! Validating library folders an admin submits: they must exist, be directories, and not overlap
//! the data directory or each other (a scan of the data dir would index our own covers, and
//! nested folders would list every book twice).

use std::path::{Path, PathBuf};

/// Canonical, validated folder paths, or a message for a 400 answer.
pub fn validate_folders(paths: &[String], data_dir: &Path) -> Result<Vec<String>, String> {
    if paths.is_empty() {
        return Err("A library needs at least one folder".into());
    }
    let data = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
    let mut out: Vec<PathBuf> = Vec::new();
    for p in paths {
        let canon =
            std::fs::canonicalize(p).map_err(|_| format!("Folder \"{p}\" does not exist"))?;
        if !canon.is_dir() {
            return Err(format!("\"{p}\" is not a folder"));
        }
        if canon.starts_with(&data) || data.starts_with(&canon) {
            return Err(format!("Folder \"{p}\" overlaps the data directory"));
        }
        if let Some(other) = out
            .iter()
            .find(|o| o.starts_with(&canon) || canon.starts_with(o))
        {
            return Err(format!(
                "Folders \"{p}\" and \"{}\" overlap",
                other.display()
            ));
        }
        out.push(canon);
    }
    Ok(out
        .into_iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_missing_overlapping_and_data_dir() {
        let tmp = tempfile::tempdir().expect("tmp");
        let data = tmp.path().join("data");
        let a = tmp.path().join("a");
        std::fs::create_dir_all(a.join("inner")).expect("mk");
        std::fs::create_dir_all(data.join("x")).expect("mk");
        let s = |p: &Path| p.to_string_lossy().into_owned();
        assert!(validate_folders(&[s(&a)], &data).is_ok());
        assert!(validate_folders(&[], &data).is_err());
        assert!(validate_folders(&[s(&tmp.path().join("nope"))], &data).is_err());
        assert!(validate_folders(&[s(&a), s(&a.join("inner"))], &data).is_err());
        assert!(validate_folders(&[s(&data.join("x"))], &data).is_err());
        assert!(validate_folders(&[s(tmp.path())], &data).is_err());
    }
}
