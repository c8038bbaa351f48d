//! Folder-name grammar (abs-internals §2.3): what ABS reads out of `Author/Series/Title` paths,
//! plus track and disc numbers from file names. Pure string functions, no I/O.

/// What the folder structure says about a book.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FolderInfo {
    pub title: String,
    pub subtitle: Option<String>,
    pub authors: Vec<String>,
    pub narrators: Vec<String>,
    pub series: Option<String>,
    pub sequence: Option<String>,
    pub published_year: Option<String>,
    pub asin: Option<String>,
}

/// Parses an item's path relative to its library folder (`/`-separated). `is_file` items are
/// titled by their file name without extension.
pub fn parse_item_path(rel_path: &str, is_file: bool, parse_subtitle: bool) -> FolderInfo {
    let parts: Vec<&str> = rel_path.split('/').filter(|p| !p.is_empty()).collect();
    let Some((&last, parents)) = parts.split_last() else {
        return FolderInfo::default();
    };
    let title_part = if is_file { strip_ext(last) } else { last };
    let (author_dir, series_dir) = match parents {
        [] => (None, None),
        [a] => (Some(*a), None),
        [.., a, s] => (Some(*a), Some(*s)),
    };
    let mut info = FolderInfo {
        authors: author_dir.map(parse_names).unwrap_or_default(),
        series: series_dir.map(|s| s.trim().to_string()),
        ..FolderInfo::default()
    };
    let mut title = title_part.trim().to_string();
    if let Some((rest, asin)) = take_asin(&title) {
        info.asin = Some(asin);
        title = rest;
    }
    if let Some((rest, narrators)) = take_narrators(&title) {
        info.narrators = parse_names(&narrators);
        title = rest;
    }
    if info.series.is_some()
        && let Some((rest, seq)) = take_sequence(&title)
    {
        info.sequence = Some(seq);
        title = rest;
    }
    if let Some((rest, year)) = take_year(&title) {
        info.published_year = Some(year);
        title = rest;
    }
    if parse_subtitle && let Some((t, sub)) = title.split_once(" - ") {
        info.subtitle = Some(sub.trim().to_string());
        title = t.trim().to_string();
    }
    info.title = title;
    info
}

fn strip_ext(name: &str) -> &str {
    match name.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => name,
    }
}

/// ` [B0XXXXXXXX]`: ten ASCII alphanumerics in brackets, anywhere in the name.
fn take_asin(title: &str) -> Option<(String, String)> {
    let bytes = title.as_bytes();
    let mut i = 0;
    while let Some(off) = title[i..].find('[') {
        let start = i + off;
        let end = start + 11;
        if end < bytes.len()
            && bytes[end] == b']'
            && bytes[start + 1..end].iter().all(u8::is_ascii_alphanumeric)
        {
            let asin = title[start + 1..end].to_string();
            let rest = format!("{}{}", title[..start].trim_end(), &title[end + 1..]);
            return Some((rest.trim().to_string(), asin));
        }
        i = start + 1;
    }
    None
}

/// A trailing ` {Name}`.
fn take_narrators(title: &str) -> Option<(String, String)> {
    let t = title.trim_end();
    let inner = t.strip_suffix('}')?;
    let open = inner.rfind('{')?;
    let names = inner[open + 1..].trim();
    if names.is_empty() {
        return None;
    }
    Some((inner[..open].trim().to_string(), names.to_string()))
}

/// The first ` - `-separated part that reads as a volume number, and the title without it.
fn take_sequence(title: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = title.split(" - ").collect();
    for (i, part) in parts.iter().enumerate() {
        if let Some((seq, rest)) = parse_volume(part.trim()) {
            let mut kept: Vec<String> = parts.iter().map(|p| p.trim().to_string()).collect();
            if rest.is_empty() {
                kept.remove(i);
            } else {
                kept[i] = rest;
            }
            let new_title = kept.join(" - ");
            if new_title.is_empty() {
                return None;
            }
            return Some((new_title, seq));
        }
    }
    None
}

/// `Vol. 1`, `Volume 2`, `Book 3`, `6.`, `0.5`, optionally followed by title text; a bare number
/// followed by text (`101 Dalmatians`) is not a volume.
fn parse_volume(part: &str) -> Option<(String, String)> {
    let lower = part.to_ascii_lowercase();
    let mut pos = 0;
    let mut labelled = false;
    for label in ["volume", "vol.", "vol", "book"] {
        if lower.starts_with(label) {
            pos = label.len();
            labelled = true;
            break;
        }
    }
    let b = part.as_bytes();
    while labelled && pos < b.len() && b[pos] == b' ' {
        pos += 1;
    }
    let digits_start = pos;
    while pos < b.len() && b[pos].is_ascii_digit() {
        pos += 1;
    }
    let int_len = pos - digits_start;
    if int_len == 0 || int_len > 3 {
        return None;
    }
    let mut number_end = pos;
    if pos + 1 < b.len() && b[pos] == b'.' && b[pos + 1].is_ascii_digit() {
        let mut q = pos + 1;
        while q < b.len() && b[q].is_ascii_digit() {
            q += 1;
        }
        if q - pos - 1 <= 2 {
            number_end = q;
        }
    }
    let number = &part[digits_start..number_end];
    let mut rest_start = number_end;
    let dotted = rest_start < b.len() && b[rest_start] == b'.';
    if dotted {
        rest_start += 1;
    }
    let rest = &part[rest_start..];
    if !rest.is_empty() && !rest.starts_with(' ') {
        return None;
    }
    let rest = rest.trim().trim_start_matches(['-', ' ']).to_string();
    if !rest.is_empty() && !labelled && !dotted {
        return None;
    }
    Some((strip_leading_zeros(number), rest))
}

fn strip_leading_zeros(n: &str) -> String {
    let trimmed = n.trim_start_matches('0');
    if trimmed.is_empty() || trimmed.starts_with('.') {
        format!("0{trimmed}")
    } else {
        trimmed.to_string()
    }
}

/// `1999 - Title` or `(1999) - Title`.
fn take_year(title: &str) -> Option<(String, String)> {
    let (head, rest) = title.split_once(" - ")?;
    let year = head
        .strip_prefix('(')
        .and_then(|h| h.strip_suffix(')'))
        .unwrap_or(head);
    if year.len() == 4 && year.bytes().all(|c| c.is_ascii_digit()) && !rest.trim().is_empty() {
        return Some((rest.trim().to_string(), year.to_string()));
    }
    None
}

/// Splits an author (or narrator) string on `&`, ` and `, `;` and `,`, reading `Last, First`
/// pairs back into `First Last`.
pub fn parse_names(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let normalised = s
        .replace(" and ", "&")
        .replace(" And ", "&")
        .replace(';', "&");
    for chunk in normalised.split('&') {
        let pieces: Vec<&str> = chunk
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        let single_word = |p: &&str| !p.contains(' ');
        let pairs = pieces.len().is_multiple_of(2)
            && !pieces.is_empty()
            && (pieces.iter().all(single_word) || (pieces.len() == 2 && single_word(&pieces[0])));
        if pairs {
            for pair in pieces.chunks(2) {
                out.push(format!("{} {}", pair[1], pair[0]));
            }
        } else {
            out.extend(pieces.iter().map(|p| p.to_string()));
        }
    }
    out.retain(|n| !n.is_empty());
    out.dedup();
    out
}

/// `CD1`, `Disc 2`, `disk3`: a disc folder that folds into its parent.
pub fn is_disc_folder(name: &str) -> bool {
    disc_number(name).is_some_and(|(rest, _)| rest.is_empty())
}

/// `cd|disc|disk` + optional spaces + 1–3 digits at the start of `s`; returns the rest and number.
fn disc_number(s: &str) -> Option<(&str, u32)> {
    let lower = s.to_ascii_lowercase();
    let label = ["disc", "disk", "cd"]
        .iter()
        .find(|l| lower.starts_with(*l))?;
    let after = s[label.len()..].trim_start();
    let digits = after.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 3 {
        return None;
    }
    Some((&after[digits..], after[..digits].parse().ok()?))
}

/// Disc and track numbers from a file name after removing the book's own words (title, author,
/// series), as ABS does so that "Book 2 - 05.mp3" yields track 5, not 2.
pub fn numbers_from_filename(file_name: &str, strip: &[&str]) -> (Option<u32>, Option<u32>) {
    let mut name = strip_ext(file_name).to_string();
    for s in strip.iter().filter(|s| !s.is_empty()) {
        name = replace_ci(&name, s);
    }
    let lower = name.to_ascii_lowercase();
    let mut disc = None;
    for (i, _) in lower.match_indices(['c', 'd']) {
        if let Some((rest, n)) = disc_number(&name[i..]) {
            disc = Some(n);
            name = format!("{}{}", &name[..i], rest);
            break;
        }
    }
    let track = first_number(&name);
    (disc, track)
}

fn replace_ci(haystack: &str, needle: &str) -> String {
    let lower = haystack.to_lowercase();
    let n = needle.to_lowercase();
    // Lower-casing can change byte lengths (`İ`), so offsets are only trusted via `get`.
    let cut = lower.find(&n).and_then(|i| {
        Some(format!(
            "{}{}",
            haystack.get(..i)?,
            haystack.get(i + n.len()..)?
        ))
    });
    cut.unwrap_or_else(|| haystack.to_string())
}

fn first_number(s: &str) -> Option<u32> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i - start <= 4 {
                return s[start..i].parse().ok();
            }
        }
        i += 1;
    }
    None
}

#[cfg(test)]
#[path = "grammar_tests.rs"]
mod tests;
