//! Description HTML: a small allow-list sanitiser (descriptions come from tags and sidecar files
//! anyone can write, and clients render them as HTML) and a plain-text rendering.

const ALLOWED: &[&str] = &[
    "p", "ol", "ul", "li", "a", "strong", "em", "del", "br", "b", "i", "u",
];
/// Elements whose content is dropped along with the tags.
const DROP_CONTENT: &[&str] = &[
    "script", "style", "iframe", "object", "embed", "template", "noscript",
];

struct TagToken<'a> {
    name: String,
    closing: bool,
    attrs: &'a str,
}

/// Parses `<...>` at the start of `s`; returns the tag and its byte length.
fn parse_tag(s: &str) -> Option<(TagToken<'_>, usize)> {
    let b = s.as_bytes();
    let mut i = 1;
    let closing = b.get(i) == Some(&b'/');
    if closing {
        i += 1;
    }
    let name_start = i;
    while i < b.len() && (b[i].is_ascii_alphanumeric()) {
        i += 1;
    }
    if i == name_start {
        return None;
    }
    let name = s[name_start..i].to_ascii_lowercase();
    let attrs_start = i;
    let mut quote: Option<u8> = None;
    while i < b.len() {
        match (quote, b[i]) {
            (None, b'>') => {
                let attrs = s[attrs_start..i].trim_end_matches('/');
                return Some((
                    TagToken {
                        name,
                        closing,
                        attrs,
                    },
                    i + 1,
                ));
            }
            (None, q @ (b'"' | b'\'')) => quote = Some(q),
            (Some(q), c) if c == q => quote = None,
            _ => {}
        }
        i += 1;
    }
    None
}

fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
}

/// The `href` of an `<a>`, kept only for http(s) and mailto links.
fn safe_href(attrs: &str) -> Option<String> {
    let lower = attrs.to_ascii_lowercase();
    let at = lower.find("href")?;
    let rest = attrs[at + 4..].trim_start().strip_prefix('=')?.trim_start();
    let value = match rest.chars().next()? {
        q @ ('"' | '\'') => rest[1..].split(q).next()?,
        _ => rest.split(char::is_whitespace).next()?,
    };
    let v = value.trim().to_ascii_lowercase();
    (v.starts_with("http://") || v.starts_with("https://") || v.starts_with("mailto:"))
        .then(|| value.trim().replace('"', "%22"))
}

/// Keeps only allow-listed tags (no attributes but a safe `href`), escapes everything else.
pub fn sanitize(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    let mut dropping: Option<String> = None;
    while let Some(lt) = rest.find('<') {
        if dropping.is_none() {
            escape(&rest[..lt], &mut out);
        }
        let Some((tag, len)) = parse_tag(&rest[lt..]) else {
            if dropping.is_none() {
                out.push_str("&lt;");
            }
            rest = &rest[lt + 1..];
            continue;
        };
        rest = &rest[lt + len..];
        if let Some(d) = &dropping {
            if tag.closing && &tag.name == d {
                dropping = None;
            }
            continue;
        }
        if DROP_CONTENT.contains(&tag.name.as_str()) && !tag.closing {
            dropping = Some(tag.name);
            continue;
        }
        if !ALLOWED.contains(&tag.name.as_str()) {
            continue;
        }
        match (tag.closing, tag.name.as_str()) {
            (true, "br") => {}
            (true, name) => out.push_str(&format!("</{name}>")),
            (false, "a") => match safe_href(tag.attrs) {
                Some(href) => out.push_str(&format!("<a href=\"{href}\">")),
                None => out.push_str("<a>"),
            },
            (false, name) => out.push_str(&format!("<{name}>")),
        }
    }
    if dropping.is_none() {
        escape(rest, &mut out);
    }
    out.trim().to_string()
}

/// Plain text for `descriptionPlain`: tags removed, paragraph breaks kept as newlines.
pub fn html_to_plain(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        match parse_tag(&rest[lt..]) {
            Some((tag, len)) => {
                if tag.name == "br" || (tag.closing && matches!(tag.name.as_str(), "p" | "li")) {
                    out.push('\n');
                }
                rest = &rest[lt + len..];
            }
            None => {
                out.push('<');
                rest = &rest[lt + 1..];
            }
        }
    }
    out.push_str(rest);
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizer_allow_list() {
        let cases = [
            ("<p>Hi <b>there</b></p>", "<p>Hi <b>there</b></p>"),
            ("<script>alert(1)</script>ok", "ok"),
            ("<p onclick=\"x()\">t</p>", "<p>t</p>"),
            ("<a href=\"javascript:alert(1)\">x</a>", "<a>x</a>"),
            (
                "<a href='https://e.org/?a=1' target=_blank>x</a>",
                "<a href=\"https://e.org/?a=1\">x</a>",
            ),
            ("<img src=x onerror=alert(1)>y", "y"),
            ("a < b", "a &lt; b"),
            ("<div>x<br/>y</div>", "x<br>y"),
            ("<style>p{}</style><i>i</i>", "<i>i</i>"),
            ("<<script>>", "&lt;"),
        ];
        for (input, want) in cases {
            assert_eq!(sanitize(input), want, "{input}");
        }
    }

    #[test]
    fn plain_text() {
        assert_eq!(html_to_plain("<p>A &amp; B</p><p>C</p>"), "A & B\nC");
    }
}
