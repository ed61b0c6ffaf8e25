//! Route patterns in Flask syntax, parsed exactly as `gobstopper/core/_router.py::parse_pattern` does.
//!
//! Strings are handled as WTF-8 bytes (UTF-8 that may also hold lone surrogates), because a Python `str` may
//! contain lone surrogates and the Python router matches those like any other character.

use regex::bytes::Regex;
use std::sync::OnceLock;

/// The convertors implemented natively. Any other convertor name makes `add` fail with `Unsupported`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conv {
    Str,
    Int,
    Float,
    Uuid,
    Path,
    Date,
}

/// One character as Python sees it: a UTF-8 scalar value or a lone surrogate encoded as WTF-8.
const SURROGATE: &str = r"(?-u:\xED[\xA0-\xBF][\x80-\xBF])";

impl Conv {
    pub fn from_name(name: &[u8]) -> Option<Conv> {
        Some(match name {
            b"str" => Conv::Str,
            b"int" => Conv::Int,
            b"float" => Conv::Float,
            b"uuid" => Conv::Uuid,
            b"path" => Conv::Path,
            b"date" => Conv::Date,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Conv::Str => "str",
            Conv::Int => "int",
            Conv::Float => "float",
            Conv::Uuid => "uuid",
            Conv::Path => "path",
            Conv::Date => "date",
        }
    }

    /// The regex as Python source: exactly `gobstopper/core/_convertors.py`'s. `_native.py` checks these against
    /// the convertors in use and keeps the Python router if one was replaced.
    pub fn python_regex(self) -> &'static str {
        match self {
            Conv::Str => "[^/]+",
            Conv::Path => "(?s:.*)",
            Conv::Int => "[0-9]+",
            Conv::Float => r"[0-9]+(\.[0-9]+)?",
            Conv::Uuid => "[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}",
            Conv::Date => "[0-9]{4}-[0-9]{2}-[0-9]{2}",
        }
    }

    pub const ALL: [Conv; 6] = [Conv::Str, Conv::Int, Conv::Float, Conv::Uuid, Conv::Path, Conv::Date];

    /// The convertors' regexes, with their own groups made non-capturing and `[^/]` / `.` widened to lone
    /// surrogates so that a bytes regex over WTF-8 matches what Python's `re` matches over `str`.
    pub fn regex(self) -> String {
        match self {
            Conv::Str => format!("(?:[^/]|{SURROGATE})+"),
            Conv::Path => format!("(?s:.|{SURROGATE})*"),
            Conv::Int => "[0-9]+".into(),
            Conv::Float => r"[0-9]+(?:\.[0-9]+)?".into(),
            Conv::Uuid => "[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}".into(),
            Conv::Date => "[0-9]{4}-[0-9]{2}-[0-9]{2}".into(),
        }
    }
}

/// One `/`-separated piece of a pattern: `literals.len() == convs.len() + 1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    pub literals: Vec<Vec<u8>>,
    pub convs: Vec<Conv>,
    pub names: Vec<String>,
}

impl Segment {
    pub fn is_static(&self) -> bool {
        self.convs.is_empty()
    }

    pub fn has_path(&self) -> bool {
        self.convs.contains(&Conv::Path)
    }

    /// The segment with parameter names erased (`v<int>`): equal keys match the same paths.
    pub fn key(&self) -> Vec<u8> {
        let mut out = self.literals[0].clone();
        for (conv, literal) in self.convs.iter().zip(&self.literals[1..]) {
            out.push(b'<');
            out.extend_from_slice(conv.name().as_bytes());
            out.push(b'>');
            out.extend_from_slice(literal);
        }
        out
    }

    /// 1 = literal text + typed convertors only, 2 = literal text + any `str`, 3 = typed only, 4 = any `str`.
    pub fn rank(&self) -> u8 {
        let has_literal = self.literals.iter().any(|l| !l.is_empty());
        let typed = !self.convs.contains(&Conv::Str);
        (if has_literal { 0 } else { 2 }) + (if typed { 1 } else { 2 })
    }

    /// Regex source with one capturing group per convertor, in order.
    pub fn regex_source(&self) -> String {
        let mut out = escape_wtf8(&self.literals[0]);
        for (conv, literal) in self.convs.iter().zip(&self.literals[1..]) {
            out.push('(');
            out.push_str(&conv.regex());
            out.push(')');
            out.push_str(&escape_wtf8(literal));
        }
        out
    }
}

/// Why a pattern was refused. The Python bindings turn these into the Python router's messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PatternError {
    /// The pattern does not start with `/`.
    NoLeadingSlash,
    /// A convertor other than str/int/float/uuid/path/date (the Python router may know it).
    Unsupported(String),
    /// The same parameter name twice.
    DuplicateName(String),
    /// A `<` or `>` left over in the literal text of this raw segment.
    Malformed(Vec<u8>),
    /// Two parameters with no literal text between them (`<a><b>`): where one ends would be a guess, and a
    /// backtracking matcher (the Python twin's `re`) takes time growing as a power of the path's length.
    Adjacent(String, String),
}

fn placeholder() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"<(?:([A-Za-z_][A-Za-z0-9_]*):)?([A-Za-z_][A-Za-z0-9_]*)>").expect("placeholder regex")
    })
}

/// Split a Flask-style pattern into segments, validating it in the same order as the Python router.
pub fn parse(pattern: &[u8]) -> Result<Vec<Segment>, PatternError> {
    if pattern.first() != Some(&b'/') {
        return Err(PatternError::NoLeadingSlash);
    }
    let mut seen: Vec<String> = Vec::new();
    let mut segments = Vec::new();
    for raw in pattern[1..].split(|&b| b == b'/') {
        let mut literals = Vec::new();
        let mut convs = Vec::new();
        let mut names = Vec::new();
        let mut pos = 0;
        for caps in placeholder().captures_iter(raw) {
            let whole = caps.get(0).expect("group 0");
            literals.push(raw[pos..whole.start()].to_vec());
            let conv_name = caps.get(1).map_or(&b"str"[..], |m| m.as_bytes());
            let conv = Conv::from_name(conv_name)
                .ok_or_else(|| PatternError::Unsupported(String::from_utf8_lossy(conv_name).into_owned()))?;
            // The placeholder regex is ASCII-only, so the name is valid UTF-8.
            let name = String::from_utf8_lossy(&caps[2]).into_owned();
            if seen.contains(&name) {
                return Err(PatternError::DuplicateName(name));
            }
            seen.push(name.clone());
            convs.push(conv);
            names.push(name);
            pos = whole.end();
        }
        literals.push(raw[pos..].to_vec());
        if literals.iter().any(|l| l.contains(&b'<') || l.contains(&b'>')) {
            return Err(PatternError::Malformed(raw.to_vec()));
        }
        if let Some(i) = (1..convs.len()).find(|&i| literals[i].is_empty()) {
            return Err(PatternError::Adjacent(names[i - 1].clone(), names[i].clone()));
        }
        segments.push(Segment { literals, convs, names });
    }
    Ok(segments)
}

/// Escape literal WTF-8 text for a bytes regex: scalar values as `regex::escape` does, lone surrogates as bytes.
pub fn escape_wtf8(text: &[u8]) -> String {
    let mut out = String::new();
    let mut rest = text;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(&regex::escape(s));
                break;
            }
            Err(e) => {
                let good = e.valid_up_to();
                out.push_str(&regex::escape(std::str::from_utf8(&rest[..good]).expect("valid prefix")));
                // WTF-8 only ever fails on a 3-byte surrogate sequence; copy it as raw bytes.
                let bad = if rest[good] == 0xED && rest.len() - good >= 3 {
                    3
                } else {
                    e.error_len().unwrap_or(rest.len() - good)
                };
                out.push_str("(?-u:");
                for b in &rest[good..good + bad] {
                    out.push_str(&format!("\\x{b:02X}"));
                }
                out.push(')');
                rest = &rest[good + bad..];
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_segments() {
        let segs = parse(b"/users/<int:id>/v<version>").unwrap();
        assert_eq!(segs.len(), 3);
        assert!(segs[0].is_static());
        assert_eq!(segs[1].convs, vec![Conv::Int]);
        assert_eq!(segs[1].key(), b"<int>".to_vec());
        assert_eq!(segs[1].rank(), 3);
        assert_eq!(segs[2].key(), b"v<str>".to_vec());
        assert_eq!(segs[2].rank(), 2);
        assert_eq!(segs[2].names, vec!["version".to_string()]);
    }

    #[test]
    fn trailing_slash_is_an_empty_static_segment() {
        let segs = parse(b"/a/").unwrap();
        assert_eq!(segs[1].literals, vec![Vec::<u8>::new()]);
        assert!(segs[1].is_static());
    }

    #[test]
    fn errors_in_python_order() {
        assert_eq!(parse(b"a"), Err(PatternError::NoLeadingSlash));
        assert_eq!(parse(b""), Err(PatternError::NoLeadingSlash));
        assert_eq!(parse(b"/<a>/<int:a>"), Err(PatternError::DuplicateName("a".into())));
        assert_eq!(parse(b"/<foo:a>"), Err(PatternError::Unsupported("foo".into())));
        assert_eq!(parse(b"/<a>/<a>/<1>"), Err(PatternError::DuplicateName("a".into())));
        assert_eq!(parse(b"/x<1>"), Err(PatternError::Malformed(b"x<1>".to_vec())));
        // The duplicate name is found before the malformed literal of the same segment.
        assert_eq!(parse(b"/<a><a>>"), Err(PatternError::DuplicateName("a".into())));
        assert_eq!(parse(b"/<a:>"), Err(PatternError::Malformed(b"<a:>".to_vec())));
    }

    #[test]
    fn escapes_surrogates_as_bytes() {
        let lone = [b'a', 0xED, 0xA0, 0x80, b'.'];
        assert_eq!(escape_wtf8(&lone), r"a(?-u:\xED\xA0\x80)\.");
        let re = Regex::new(&format!("^(?:{})$", escape_wtf8(&lone))).unwrap();
        assert!(re.is_match(&lone));
    }

    #[test]
    fn convertor_regexes_are_python_compatible() {
        let full = |c: Conv, s: &[u8]| Regex::new(&format!("^(?:{})$", c.regex())).unwrap().is_match(s);
        assert!(full(Conv::Str, "é\n".as_bytes()));
        assert!(full(Conv::Str, &[0xED, 0xB0, 0x80]));
        assert!(!full(Conv::Str, b"a/b"));
        assert!(!full(Conv::Str, b""));
        assert!(full(Conv::Path, b""));
        assert!(full(Conv::Path, b"a/b"));
        assert!(full(Conv::Path, b"a\nb")); // any character: `path` is the rest of the path, whatever it holds
        assert!(!full(Conv::Int, "١٢".as_bytes()));
        assert!(full(Conv::Float, b"1.5"));
        assert!(!full(Conv::Float, b"1."));
        assert!(full(Conv::Uuid, b"12345678-1234-1234-1234-1234567890AB"));
        assert!(full(Conv::Uuid, b"123456781234-1234-12341234567890AB"));
        assert!(!full(Conv::Uuid, b"12345678-1234-1234-1234-1234567890AG"));
        assert!(full(Conv::Date, b"2024-02-30"));
    }
}
