//! Static-file resolution: which file under a root answers a request, with which status and headers.
//! The specification is `STATIC.md`; `gobstopper/_native/statics.py` is the pure-Python twin.
//! Only metadata is read here (`realpath`, `lstat`, `stat`); the caller sends the bytes.

use std::fs;
use std::sync::OnceLock;
use std::path::{Path, PathBuf};

#[cfg(unix)]
use std::os::unix::fs::MetadataExt;

/// One request, as the static middleware sees it. `None` means the header is absent.
#[derive(Clone, Copy, Debug, Default)]
pub struct Request<'a> {
    pub rel_path: &'a str,
    pub method: &'a str,
    pub if_none_match: Option<&'a str>,
    pub if_modified_since: Option<&'a str>,
    pub range: Option<&'a str>,
    pub accept_encoding: Option<&'a str>,
    pub if_match: Option<&'a str>,
    pub if_unmodified_since: Option<&'a str>,
    pub if_range: Option<&'a str>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    pub status: u16,
    pub path: Option<PathBuf>,
    pub headers: Vec<(&'static str, String)>,
    pub start: u64,
    pub end: u64,
}

impl Resolved {
    fn bare(status: u16, headers: Vec<(&'static str, String)>) -> Self {
        Resolved { status, path: None, headers, start: 0, end: 0 }
    }

    fn not_found() -> Self {
        Self::bare(404, Vec::new())
    }
}

/// Content types by lower-case extension (`text/*` types get `; charset=utf-8`): the one table both twins read,
/// `src/gobstopper/_native/mime_types.txt` ("extension type" per line, sorted), compiled in here.
const MIME_TABLE: &str = include_str!("../../gobstopper/_native/mime_types.txt");

pub fn mime_types() -> &'static [(&'static str, &'static str)] {
    static TABLE: OnceLock<Vec<(&'static str, &'static str)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        MIME_TABLE
            .lines()
            .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
            .map(|line| {
                let mut parts = line.split_whitespace();
                match (parts.next(), parts.next(), parts.next()) {
                    (Some(ext), Some(kind), None) => (ext, kind),
                    _ => panic!("mime_types.txt: bad line {line:?}"),
                }
            })
            .collect()
    })
}

pub const FALLBACK_TYPE: &str = "application/octet-stream";
pub const CACHE_IMMUTABLE: &str = "public, max-age=31536000, immutable";
pub const CACHE_REVALIDATE: &str = "public, no-cache";
const MAX_PATH_BYTES: usize = 4096;
const MAX_SEGMENT_BYTES: usize = 255;

/// The Content-Type for a file name (the requested name, never the `.br`/`.gz` sibling's).
pub fn content_type(name: &str) -> String {
    let ext = match name.rfind('.') {
        Some(i) if i > 0 => name[i + 1..].to_ascii_lowercase(),
        _ => return FALLBACK_TYPE.into(),
    };
    let table = mime_types();
    match table.binary_search_by(|(e, _)| (*e).cmp(ext.as_str())) {
        Ok(i) if table[i].1.starts_with("text/") => format!("{}; charset=utf-8", table[i].1),
        Ok(i) => table[i].1.into(),
        Err(_) => FALLBACK_TYPE.into(),
    }
}

/// A name is fingerprinted when it holds a maximal run of >= 8 ASCII hex characters, with at least one digit and
/// one letter, preceded by `.`, `-` or `_` and followed by `.` (`app.3f9a1c2b.js`, `app-3f9a1c2b.min.js`).
pub fn is_fingerprinted(name: &str) -> bool {
    let b = name.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_hexdigit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_hexdigit() {
            i += 1;
        }
        let run = &b[start..i];
        if run.len() >= 8
            && start > 0
            && matches!(b[start - 1], b'.' | b'-' | b'_')
            && i < b.len()
            && b[i] == b'.'
            && run.iter().any(u8::is_ascii_digit)
            && run.iter().any(u8::is_ascii_alphabetic)
        {
            return true;
        }
    }
    false
}

/// Windows device names (reserved on every OS here): the part before the first `.`, trailing spaces removed,
/// ASCII case-insensitive.
pub fn is_device_name(segment: &str) -> bool {
    let stem = segment.split('.').next().unwrap_or("").trim_end_matches(' ').to_ascii_uppercase();
    match stem.as_str() {
        "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$" => true,
        _ => {
            let (prefix, digit) = match (stem.get(..3), stem.get(3..)) {
                (Some(p), Some(d)) => (p, d),
                _ => return false,
            };
            (prefix == "COM" || prefix == "LPT")
                && matches!(digit, "0" | "1" | "2" | "3" | "4" | "5" | "6" | "7" | "8" | "9" | "¹" | "²" | "³")
        }
    }
}

/// The segments of a request path, or `None` when it must be refused without touching the file system.
pub fn split_rel_path(rel_path: &str) -> Option<Vec<&str>> {
    let rel = rel_path.strip_prefix('/').unwrap_or(rel_path);
    if rel.is_empty() || rel.len() > MAX_PATH_BYTES {
        return None;
    }
    let mut out = Vec::new();
    for seg in rel.split('/') {
        if seg.is_empty()
            || seg.len() > MAX_SEGMENT_BYTES
            || seg.ends_with('.')
            || seg.ends_with(' ')
            || seg.chars().any(|c| c == '\\' || c == ':' || c < ' ' || c == '\x7f')
            || is_device_name(seg)
        {
            return None;
        }
        out.push(seg);
    }
    Some(out)
}

/// Which codings `Accept-Encoding` allows: (br, gzip).
pub fn accepted_encodings(header: Option<&str>) -> (bool, bool) {
    let Some(header) = header else { return (false, false) };
    let (mut br, mut gzip, mut star) = (None, None, None);
    for item in header.split(',') {
        let item = trim_ows(item);
        if item.is_empty() {
            continue;
        }
        let mut parts = item.split(';');
        let coding = trim_ows(parts.next().unwrap_or("")).to_ascii_lowercase();
        let mut q = Some(1000);
        for param in parts {
            let param = trim_ows(param);
            if param.is_empty() {
                continue;
            }
            let (name, value) = param.split_once('=').unwrap_or((param, ""));
            if trim_ows(name).eq_ignore_ascii_case("q") {
                q = parse_qvalue(trim_ows(value));
            }
        }
        let Some(q) = q else { continue };
        let slot = match coding.as_str() {
            "br" => &mut br,
            "gzip" | "x-gzip" => &mut gzip,
            "*" => &mut star,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(q);
        }
    }
    let allowed = |explicit: Option<u32>| explicit.or(star).is_some_and(|q| q > 0);
    (allowed(br), allowed(gzip))
}

/// RFC 9110 qvalue in thousandths: `0[.ddd]` or `1[.000]`.
fn parse_qvalue(v: &str) -> Option<u32> {
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_value = format!("{frac:0<3}").parse::<u32>().ok()?;
    match int {
        "0" => Some(frac_value),
        "1" if frac_value == 0 => Some(1000),
        _ => None,
    }
}

fn trim_ows(s: &str) -> &str {
    s.trim_matches(|c| c == ' ' || c == '\t')
}

/// The outcome of a `Range` header for a representation of `size` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeOutcome {
    /// Absent, malformed or several ranges: serve the whole representation (200).
    Ignore,
    /// 416 with `Content-Range: bytes */size`.
    Unsatisfiable,
    /// 206 for bytes `start..end` (end exclusive).
    Partial(u64, u64),
}

fn parse_digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Saturate: any value this large is past the end of every file.
    Some(s.bytes().fold(0u64, |acc, b| acc.saturating_mul(10).saturating_add(u64::from(b - b'0'))))
}

/// Parse a `Range` header (one pass, linear in its length).
pub fn parse_range(header: &str, size: u64) -> RangeOutcome {
    let Some((unit, set)) = trim_ows(header).split_once('=') else { return RangeOutcome::Ignore };
    if !unit.eq_ignore_ascii_case("bytes") {
        return RangeOutcome::Ignore;
    }
    let mut spec = None;
    for part in set.split(',') {
        let part = trim_ows(part);
        if part.is_empty() {
            continue;
        }
        if spec.is_some() {
            return RangeOutcome::Ignore;
        }
        spec = Some(part);
    }
    let Some((first, last)) = spec.and_then(|s| s.split_once('-')) else { return RangeOutcome::Ignore };
    if first.is_empty() {
        let Some(n) = parse_digits(last) else { return RangeOutcome::Ignore };
        if n == 0 || size == 0 {
            return RangeOutcome::Unsatisfiable;
        }
        return RangeOutcome::Partial(size.saturating_sub(n), size);
    }
    let Some(first) = parse_digits(first) else { return RangeOutcome::Ignore };
    let end = if last.is_empty() {
        size
    } else {
        let Some(last) = parse_digits(last) else { return RangeOutcome::Ignore };
        if last < first {
            return RangeOutcome::Ignore;
        }
        last.saturating_add(1).min(size)
    };
    if first >= size {
        return RangeOutcome::Unsatisfiable;
    }
    RangeOutcome::Partial(first, end)
}

/// Does `If-None-Match` match `etag` (weak comparison, RFC 9110 §8.8.3.2: `W/` ignored on both sides)?
pub fn none_match(header: &str, etag: &str) -> bool {
    let opaque = etag.strip_prefix("W/").unwrap_or(etag);
    header.split(',').map(trim_ows).any(|item| item == "*" || item.strip_prefix("W/").unwrap_or(item) == opaque)
}

/// Does `If-Match` match `etag` (strong comparison: neither tag weak, same opaque tag)? `*` always does: the file
/// exists (RFC 9110 §13.1.1).
pub fn strong_match(header: &str, etag: &str) -> bool {
    let strong = !etag.starts_with("W/");
    header.split(',').map(trim_ows).any(|item| item == "*" || (strong && item == etag))
}

/// Is `If-Range` true (RFC 9110 §13.1.5)? An entity tag (it starts with `"` or `W/`) must match `etag` strongly;
/// otherwise an HTTP-date must equal the `Last-Modified` sent (seconds); anything else is false.
pub fn range_condition(header: &str, etag: &str, last_modified: i64) -> bool {
    let value = trim_ows(header);
    if value.starts_with('"') || value.starts_with("W/") {
        return !etag.starts_with("W/") && value == etag;
    }
    parse_http_date(value) == Some(last_modified)
}

const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const LONG_DAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
/// 9999-12-31T23:59:59Z: the last second an IMF-fixdate can show.
pub const MAX_HTTP_SECONDS: i64 = 253_402_300_799;

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// IMF-fixdate for seconds since the epoch, clamped to 1970..=9999.
pub fn format_http_date(seconds: i64) -> String {
    let s = seconds.clamp(0, MAX_HTTP_SECONDS);
    let (days, rem) = (s.div_euclid(86_400), s.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    let weekday = DAYS[(days + 4).rem_euclid(7) as usize];
    format!(
        "{weekday}, {d:02} {} {y:04} {:02}:{:02}:{:02} GMT",
        MONTHS[(m - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn num(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn time_of_day(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 8 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    let (h, m, sec) = (num(&s[..2])?, num(&s[3..5])?, num(&s[6..])?);
    (h <= 23 && m <= 59 && sec <= 60).then_some(h * 3600 + m * 60 + sec)
}

fn date_seconds(y: i64, month: &str, d: i64, time: i64) -> Option<i64> {
    let m = MONTHS.iter().position(|&x| x == month)? as i64 + 1;
    (d >= 1 && d <= days_in_month(y, m)).then(|| days_from_civil(y, m, d) * 86_400 + time)
}

/// Parse an HTTP-date in any of the three formats of RFC 9110 §5.6.7 (two-digit years: 70-99 → 19xx, else 20xx).
pub fn parse_http_date(value: &str) -> Option<i64> {
    let v = trim_ows(value);
    if !v.is_ascii() {
        return None;
    }
    let parts: Vec<&str> = v.split(' ').collect();
    match parts.as_slice() {
        // Sun, 06 Nov 1994 08:49:37 GMT
        [day, dd, mon, yyyy, time, "GMT"] if day.len() == 4 && DAYS.contains(&&day[..3]) && day.ends_with(',') => {
            if dd.len() != 2 || yyyy.len() != 4 {
                return None;
            }
            date_seconds(num(yyyy)?, mon, num(dd)?, time_of_day(time)?)
        }
        // Sunday, 06-Nov-94 08:49:37 GMT
        [day, date, time, "GMT"] if day.ends_with(',') && LONG_DAYS.contains(&&day[..day.len() - 1]) => {
            let d: Vec<&str> = date.split('-').collect();
            let [dd, mon, yy] = d.as_slice() else { return None };
            if dd.len() != 2 || yy.len() != 2 {
                return None;
            }
            let yy = num(yy)?;
            date_seconds(if yy >= 70 { 1900 + yy } else { 2000 + yy }, mon, num(dd)?, time_of_day(time)?)
        }
        // Sun Nov  6 08:49:37 1994 (a one-digit day is padded with a space, so the split leaves an empty part)
        [day, mon, "", d, time, yyyy] if DAYS.contains(day) && d.len() == 1 && yyyy.len() == 4 => {
            date_seconds(num(yyyy)?, mon, num(d)?, time_of_day(time)?)
        }
        [day, mon, dd, time, yyyy] if DAYS.contains(day) && dd.len() == 2 && yyyy.len() == 4 => {
            date_seconds(num(yyyy)?, mon, num(dd)?, time_of_day(time)?)
        }
        _ => None,
    }
}

/// Metadata of a regular file: size and modification time in nanoseconds.
struct Stat {
    real: PathBuf,
    size: u64,
    mtime_ns: i128,
}

fn mtime_ns(meta: &fs::Metadata) -> i128 {
    #[cfg(unix)]
    {
        i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec())
    }
    #[cfg(not(unix))]
    {
        use std::time::UNIX_EPOCH;
        match meta.modified() {
            Ok(t) => match t.duration_since(UNIX_EPOCH) {
                Ok(d) => d.as_nanos() as i128,
                Err(e) => -(e.duration().as_nanos() as i128),
            },
            Err(_) => 0,
        }
    }
}

/// The real path of `candidate` when it is a regular file inside `real_root` (or anywhere, when following).
///
/// `candidate` is `real_root` joined with checked segments. Fast path: `lstat` each segment below the (already
/// real) root; with no symlink on the way the candidate is its own real path. A symlink anywhere falls back to
/// `realpath` and the containment check.
fn regular_file(real_root: &Path, candidate: &Path, follow_symlinks: bool) -> Option<Stat> {
    let rel = candidate.strip_prefix(real_root).ok()?;
    let mut walked = real_root.to_path_buf();
    let mut last = None;
    for part in rel.components() {
        walked.push(part);
        let meta = fs::symlink_metadata(&walked).ok()?;
        if meta.file_type().is_symlink() {
            return resolve_symlinks(real_root, candidate, follow_symlinks);
        }
        last = Some(meta);
    }
    let meta = last?;
    if !meta.is_file() {
        return None;
    }
    Some(Stat { size: meta.len(), mtime_ns: mtime_ns(&meta), real: walked })
}

fn resolve_symlinks(real_root: &Path, candidate: &Path, follow_symlinks: bool) -> Option<Stat> {
    let real = fs::canonicalize(candidate).ok()?;
    if !follow_symlinks && !real.starts_with(real_root) {
        return None;
    }
    let meta = fs::metadata(&real).ok()?;
    if !meta.is_file() {
        return None;
    }
    Some(Stat { size: meta.len(), mtime_ns: mtime_ns(&meta), real })
}

/// A precompressed sibling (`<file>.br`), held to the same rules as the file. When the file itself was reached
/// without meeting a symlink (`file_is_real`), the parent directories are known to be real: one `lstat` suffices.
fn sibling(
    real_root: &Path,
    candidate: &Path,
    suffix: &str,
    follow_symlinks: bool,
    file_is_real: bool,
) -> Option<Stat> {
    let mut name = candidate.as_os_str().to_owned();
    name.push(suffix);
    let path = PathBuf::from(name);
    if !file_is_real {
        return regular_file(real_root, &path, follow_symlinks);
    }
    let meta = fs::symlink_metadata(&path).ok()?;
    if meta.file_type().is_symlink() {
        return resolve_symlinks(real_root, &path, follow_symlinks);
    }
    if !meta.is_file() {
        return None;
    }
    Some(Stat { size: meta.len(), mtime_ns: mtime_ns(&meta), real: path })
}

fn hex_signed(v: i128) -> String {
    if v < 0 {
        format!("-{:x}", v.unsigned_abs())
    } else {
        format!("{v:x}")
    }
}

/// Resolve `req` against a root that is already a real (canonical) path.
pub fn resolve_in(real_root: &Path, req: &Request<'_>, follow_symlinks: bool) -> Resolved {
    if req.method != "GET" && req.method != "HEAD" {
        return Resolved::bare(405, vec![("allow", "GET, HEAD".into())]);
    }
    let Some(segments) = split_rel_path(req.rel_path) else { return Resolved::not_found() };
    let mut candidate = real_root.to_path_buf();
    candidate.extend(&segments);
    let Some(file) = regular_file(real_root, &candidate, follow_symlinks) else { return Resolved::not_found() };
    let file_is_real = file.real == candidate;
    let br = sibling(real_root, &candidate, ".br", follow_symlinks, file_is_real);
    let gz = sibling(real_root, &candidate, ".gz", follow_symlinks, file_is_real);
    let vary = br.is_some() || gz.is_some();
    let (accepts_br, accepts_gzip) = accepted_encodings(req.accept_encoding);
    let (chosen, encoding) = match (br, gz) {
        (Some(b), _) if accepts_br => (b, Some(("br", "-br"))),
        (_, Some(g)) if accepts_gzip => (g, Some(("gzip", "-gz"))),
        _ => (file, None),
    };
    let name = segments[segments.len() - 1];
    let etag =
        format!("\"{:x}-{}{}\"", chosen.size, hex_signed(chosen.mtime_ns), encoding.map_or("", |(_, suffix)| suffix));
    let mtime_seconds = i64::try_from(chosen.mtime_ns.div_euclid(1_000_000_000)).unwrap_or(i64::MAX);
    let last_modified = mtime_seconds.clamp(0, MAX_HTTP_SECONDS); // the second Last-Modified shows
    let cache_control = if is_fingerprinted(name) { CACHE_IMMUTABLE } else { CACHE_REVALIDATE };

    // RFC 9110 §13.2.2, steps 1-2: the state the client expects, else 412.
    let failed = match (req.if_match, req.if_unmodified_since) {
        (Some(im), _) => !strong_match(im, &etag),
        (None, Some(ius)) => parse_http_date(ius).is_some_and(|date| mtime_seconds > date),
        (None, None) => false,
    };
    if failed {
        return Resolved::bare(412, if vary { vec![("vary", "accept-encoding".into())] } else { Vec::new() });
    }
    // Steps 3-4: the client's copy is current: 304.
    let not_modified = match (req.if_none_match, req.if_modified_since) {
        (Some(inm), _) => none_match(inm, &etag),
        (None, Some(ims)) => parse_http_date(ims).is_some_and(|date| mtime_seconds <= date),
        (None, None) => false,
    };
    if not_modified {
        let mut headers = vec![("etag", etag), ("cache-control", cache_control.into())];
        if vary {
            headers.push(("vary", "accept-encoding".into()));
        }
        return Resolved::bare(304, headers);
    }
    let size = chosen.size;
    // Step 5: a Range only applies while If-Range (when sent) still names this representation.
    let range_header = match req.if_range {
        Some(condition) if !range_condition(condition, &etag, last_modified) => None,
        _ => req.range,
    };
    let range = range_header.map_or(RangeOutcome::Ignore, |r| parse_range(r, size));
    let (status, start, end) = match range {
        RangeOutcome::Unsatisfiable => {
            return Resolved::bare(416, vec![("content-range", format!("bytes */{size}"))]);
        }
        RangeOutcome::Ignore => (200, 0, size),
        RangeOutcome::Partial(start, end) => (206, start, end),
    };
    let mut headers = vec![
        ("content-type", content_type(name)),
        ("content-length", (end - start).to_string()),
        ("etag", etag),
        ("last-modified", format_http_date(last_modified)),
        ("cache-control", cache_control.into()),
        ("accept-ranges", "bytes".into()),
    ];
    if vary {
        headers.push(("vary", "accept-encoding".into()));
    }
    if let Some((coding, _)) = encoding {
        headers.push(("content-encoding", coding.into()));
    }
    if status == 206 {
        headers.push(("content-range", format!("bytes {start}-{}/{size}", end - 1)));
    }
    Resolved { status, path: Some(chosen.real), headers, start, end }
}

/// Resolve `req` under `root` (made real first; a missing root answers 404).
pub fn resolve(root: &Path, req: &Request<'_>, follow_symlinks: bool) -> Resolved {
    if req.method != "GET" && req.method != "HEAD" {
        return resolve_in(root, req, follow_symlinks);
    }
    match fs::canonicalize(root) {
        Ok(real_root) => resolve_in(&real_root, req, follow_symlinks),
        Err(_) => Resolved::not_found(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mime_table_is_sorted_for_binary_search() {
        assert!(mime_types().windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(content_type("a.CSS"), "text/css; charset=utf-8");
        assert_eq!(content_type("a.png"), "image/png");
        assert_eq!(content_type(".png"), FALLBACK_TYPE);
        assert_eq!(content_type("README"), FALLBACK_TYPE);
    }

    #[test]
    fn fingerprints() {
        assert!(is_fingerprinted("app.3f9a1c2b.js"));
        assert!(is_fingerprinted("app-3f9a1c2b.min.js"));
        assert!(is_fingerprinted("chunk_ABCDEF0123.css"));
        assert!(!is_fingerprinted("report-20240101.pdf"));
        assert!(!is_fingerprinted("deadbeefcafe.js"));
        assert!(!is_fingerprinted("app.3f9a1c2.js"));
        assert!(!is_fingerprinted("app.3f9a1c2bz.js"));
        assert!(!is_fingerprinted("3f9a1c2b.js"));
        assert!(!is_fingerprinted("app.3f9a1c2b"));
    }

    #[test]
    fn rejected_paths() {
        for bad in [
            "",
            "/",
            "..",
            "a/../b",
            "a/./b",
            ".",
            "a//b",
            "//etc/passwd",
            "a/",
            "..\\x",
            "C:",
            "c:x",
            "a\0b",
            "CON",
            "con.txt",
            "CON.txt.html",
            "CON  ",
            "a/AUX",
            "COM¹",
            "lpt9.log",
            "NUL .txt",
            "x. ",
            "x...",
        ] {
            assert_eq!(split_rel_path(bad), None, "{bad:?}");
        }
        assert_eq!(split_rel_path("/a/b.txt"), Some(vec!["a", "b.txt"]));
        assert_eq!(split_rel_path("CONSOLE.txt"), Some(vec!["CONSOLE.txt"]));
        assert_eq!(split_rel_path(".well-known/x"), Some(vec![".well-known", "x"]));
        assert_eq!(split_rel_path("%2e%2e"), Some(vec!["%2e%2e"]));
        assert_eq!(split_rel_path(&"a".repeat(256)), None);
    }

    #[test]
    fn ranges() {
        use RangeOutcome::*;
        assert_eq!(parse_range("bytes=0-0", 10), Partial(0, 1));
        assert_eq!(parse_range("bytes=2-", 10), Partial(2, 10));
        assert_eq!(parse_range("bytes=-3", 10), Partial(7, 10));
        assert_eq!(parse_range("bytes=-30", 10), Partial(0, 10));
        assert_eq!(parse_range("bytes=5-999999999999999999999999", 10), Partial(5, 10));
        assert_eq!(parse_range("Bytes= 1-2 ,", 10), Partial(1, 3));
        assert_eq!(parse_range("bytes=10-", 10), Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 10), Unsatisfiable);
        assert_eq!(parse_range("bytes=0-", 0), Unsatisfiable);
        for bad in
            ["bytes: 0-1", "items=0-1", "bytes=¹-2", "bytes=0-1,2-3", "bytes=3-2", "bytes=", "bytes=-", "bytes=a-b"]
        {
            assert_eq!(parse_range(bad, 10), Ignore, "{bad}");
        }
        let many = format!("bytes={}", vec!["0-0"; 5000].join(","));
        assert_eq!(parse_range(&many, 10), Ignore);
    }

    #[test]
    fn encodings() {
        assert_eq!(accepted_encodings(Some("gzip, br")), (true, true));
        assert_eq!(accepted_encodings(Some("br;q=0, gzip;q=0.5")), (false, true));
        assert_eq!(accepted_encodings(Some("*")), (true, true));
        assert_eq!(accepted_encodings(Some("*;q=0, BR")), (true, false));
        assert_eq!(accepted_encodings(Some("br;q=2, x-gzip")), (false, true));
        assert_eq!(accepted_encodings(Some("br;q=0.000")), (false, false));
        assert_eq!(accepted_encodings(Some("br;q=1.000")), (true, false));
        assert_eq!(accepted_encodings(None), (false, false));
    }

    #[test]
    fn http_dates() {
        let t = 784_111_777;
        assert_eq!(format_http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(t));
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), Some(t));
        assert_eq!(parse_http_date("Sun Nov  6 08:49:37 1994"), Some(t));
        assert_eq!(parse_http_date("Sun, 31 Nov 1994 08:49:37 GMT"), None);
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 UTC"), None);
        assert_eq!(parse_http_date("garbage"), None);
        assert_eq!(format_http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(format_http_date(i64::MAX), "Fri, 31 Dec 9999 23:59:59 GMT");
        assert_eq!(format_http_date(-5), "Thu, 01 Jan 1970 00:00:00 GMT");
    }

    #[test]
    fn preconditions_compare_strongly() {
        assert!(strong_match("\"a-1\"", "\"a-1\""));
        assert!(strong_match("\"x\", \"a-1\"", "\"a-1\""));
        assert!(strong_match("*", "\"a-1\""));
        assert!(!strong_match("W/\"a-1\"", "\"a-1\""));
        assert!(!strong_match("\"a-1\"", "W/\"a-1\""));
        assert!(range_condition(" \"a-1\" ", "\"a-1\"", 5));
        assert!(!range_condition("W/\"a-1\"", "\"a-1\"", 5));
        assert!(!range_condition("\"a-2\"", "\"a-1\"", 5));
        assert!(range_condition("Thu, 01 Jan 1970 00:00:05 GMT", "\"a-1\"", 5));
        assert!(!range_condition("Thu, 01 Jan 1970 00:00:06 GMT", "\"a-1\"", 5));
        assert!(!range_condition("garbage", "\"a-1\"", 5));
    }

    #[test]
    fn etags_compare_weakly() {
        assert!(none_match("W/\"a-1\"", "W/\"a-1\""));
        assert!(none_match("\"x\", \"a-1\"", "W/\"a-1\""));
        assert!(none_match("*", "W/\"a-1\""));
        assert!(!none_match("\"a-2\"", "W/\"a-1\""));
        assert!(!none_match("", "W/\"a-1\""));
    }
}
