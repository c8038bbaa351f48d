//! Small conversions from ABS's storage forms: path remapping, its text timestamps, and its JSON
//! columns (whose numbers are sometimes floats where we keep integers).

use serde_json::Value;

/// `--path-map OLD=NEW` rules, applied longest OLD first so a nested folder can be mapped apart
/// from its parent.
#[derive(Debug, Clone, Default)]
pub struct PathMap {
    rules: Vec<(String, String)>,
}

impl PathMap {
    pub fn parse(specs: &[String]) -> anyhow::Result<PathMap> {
        let mut rules = Vec::new();
        for spec in specs {
            let Some((old, new)) = spec.split_once('=') else {
                anyhow::bail!("--path-map needs OLD=NEW, got {spec:?}");
            };
            let old = trim_slash(old);
            let new = trim_slash(new);
            if !old.starts_with('/') || !new.starts_with('/') {
                anyhow::bail!("--path-map paths must be absolute: {spec:?}");
            }
            rules.push((old.to_string(), new.to_string()));
        }
        rules.sort_by_key(|r| std::cmp::Reverse(r.0.len()));
        Ok(PathMap { rules })
    }

    /// Rewrites `path` by the first rule whose OLD is `path` itself or a whole-component prefix.
    pub fn apply(&self, path: &str) -> String {
        for (old, new) in &self.rules {
            if path == old {
                return new.clone();
            }
            if let Some(rest) = path.strip_prefix(old.as_str())
                && (rest.starts_with('/') || old == "/")
            {
                let rest = rest.trim_start_matches('/');
                return if new == "/" {
                    format!("/{rest}")
                } else {
                    format!("{new}/{rest}")
                };
            }
        }
        path.to_string()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

fn trim_slash(p: &str) -> &str {
    let t = p.trim_end_matches('/');
    if t.is_empty() && p.starts_with('/') {
        "/"
    } else {
        t
    }
}

/// ABS (Sequelize) writes `2026-12-01 02:39:25.229 +00:00`; older rows and JSON use ISO 8601 or
/// epoch milliseconds.
pub fn parse_time(text: &str) -> Option<i64> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    if let Ok(n) = t.parse::<i64>() {
        return Some(n);
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f %:z",
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S%.f %z",
    ] {
        if let Ok(d) = chrono::DateTime::parse_from_str(t, fmt) {
            return Some(d.timestamp_millis());
        }
    }
    chrono::DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|d| d.timestamp_millis())
}

/// Parses a JSON column, treating NULL and bad JSON as `fallback`.
pub fn json_or(text: Option<&str>, fallback: Value) -> Value {
    text.and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(fallback)
}

/// A JSON array of strings (tags, genres, narrators); anything else becomes empty.
pub fn string_list(text: Option<&str>) -> Vec<String> {
    match json_or(text, Value::Null) {
        Value::Array(a) => a
            .into_iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Node's `fs.stat` gives fractional milliseconds and ABS stores them as they come; our model keeps
/// integers, so every number under these keys is rounded before deserialising.
const INTEGER_KEYS: &[&str] = &[
    "size",
    "mtimeMs",
    "ctimeMs",
    "birthtimeMs",
    "addedAt",
    "updatedAt",
    "index",
    "bitRate",
    "channels",
    "trackNumFromMeta",
    "discNumFromMeta",
    "trackNumFromFilename",
    "discNumFromFilename",
    "id",
];

pub fn round_integer_fields(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                if INTEGER_KEYS.contains(&k.as_str())
                    && let Some(f) = child.as_f64()
                    && !child.is_i64()
                    && !child.is_u64()
                {
                    *child = Value::from(f.round() as i64);
                } else {
                    round_integer_fields(child);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(round_integer_fields),
        _ => {}
    }
}

/// Rewrites `metadata.path` of a library-file-shaped JSON object.
pub fn remap_file_path(v: &mut Value, map: &PathMap) {
    if let Some(Value::String(p)) = v.get_mut("metadata").and_then(|m| m.get_mut("path")) {
        *p = map.apply(p);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_wins_on_component_boundaries() {
        let m = PathMap::parse(&[
            "/tmp/abs=/srv/a".into(),
            "/tmp/abs/audiobooks/=/media/books".into(),
        ])
        .unwrap();
        assert_eq!(
            m.apply("/tmp/abs/audiobooks/X/y.mp3"),
            "/media/books/X/y.mp3"
        );
        assert_eq!(m.apply("/tmp/abs/audiobooks"), "/media/books");
        assert_eq!(m.apply("/tmp/abs/metadata/c.jpg"), "/srv/a/metadata/c.jpg");
        assert_eq!(m.apply("/tmp/absolute/x"), "/tmp/absolute/x");
        assert!(PathMap::parse(&["relative=/x".into()]).is_err());
        assert!(PathMap::parse(&["/x".into()]).is_err());
    }

    #[test]
    fn abs_times() {
        assert_eq!(
            parse_time("2026-12-01 02:39:25.229 +00:00"),
            Some(1796092765229)
        );
        assert_eq!(parse_time("2027-01-30T02:39:25.531Z"), Some(1801276765531));
        assert_eq!(parse_time("1796092765229"), Some(1796092765229));
        assert_eq!(parse_time(""), None);
    }

    #[test]
    fn fractional_stat_times_are_rounded() {
        let mut v: Value =
            serde_json::from_str(r#"{"metadata":{"mtimeMs":1.6e12,"size":3.0},"title":1.5}"#)
                .unwrap();
        round_integer_fields(&mut v);
        assert_eq!(v["metadata"]["mtimeMs"], Value::from(1600000000000_i64));
        assert_eq!(v["title"], Value::from(1.5));
    }
}
