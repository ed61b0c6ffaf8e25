"""The pure-Python static-file resolver: the twin of ``gobstopper_rs.resolve`` (spec: src/gobstopper_rs/STATIC.md).

Given a root and the already percent-decoded request path after the mount prefix, find the file to send and the
status and headers to send it with. Only metadata is read (``realpath``, ``lstat``, ``stat``); the adapter sends
the bytes. Every rule here is mirrored line by line in ``src/gobstopper_rs/src/statics.rs``, and the shared
vectors in ``src/gobstopper_rs/tests/static_vectors.json`` run against both.
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "CACHE_IMMUTABLE",
    "CACHE_REVALIDATE",
    "MIME_TYPES",
    "StaticResolver",
    "StaticResult",
    "content_type",
    "is_fingerprinted",
    "resolve",
]


@dataclass(frozen=True, slots=True)
class StaticResult:
    status: int
    path: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    start: int = 0
    end: int = 0


#: Content types by lower-case extension (sorted); ``text/*`` types get ``; charset=utf-8``. Equal to Rust's table.
def _read_mime_types() -> list[tuple[str, str]]:
    # The table gobstopper_rs compiles in too (``mime_types.txt`` beside this module): one source for both twins.
    text = (Path(__file__).parent / "mime_types.txt").read_text(encoding="ascii")
    pairs = [tuple(line.split()) for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if any(len(pair) != 2 for pair in pairs) or pairs != sorted(pairs):
        raise RuntimeError("mime_types.txt: one 'extension type' pair per line, sorted by extension")
    return pairs  # type: ignore[return-value]


#: Content types by lower-case extension; ``text/*`` types get ``; charset=utf-8``.
MIME_TYPES: list[tuple[str, str]] = _read_mime_types()
_MIME = dict(MIME_TYPES)
FALLBACK_TYPE = "application/octet-stream"
CACHE_IMMUTABLE = "public, max-age=31536000, immutable"
CACHE_REVALIDATE = "public, no-cache"
_MAX_PATH_BYTES = 4096
_MAX_SEGMENT_BYTES = 255
_HEX = frozenset("0123456789abcdefABCDEF")
_DIGITS = frozenset("0123456789")
_OWS = " \t"
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_DEVICES = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"{p}{d}" for p in ("COM", "LPT") for d in [*"0123456789", "\u00b9", "\u00b2", "\u00b3"]]
)


def content_type(name: str) -> str:
    """The Content-Type for a file name (the requested name, never the ``.br``/``.gz`` sibling's)."""
    i = name.rfind(".")
    if i <= 0:
        return FALLBACK_TYPE
    found = _MIME.get(name[i + 1 :].translate(_ASCII_LOWER))
    if found is None:
        return FALLBACK_TYPE
    return f"{found}; charset=utf-8" if found.startswith("text/") else found


def is_fingerprinted(name: str) -> bool:
    """A maximal run of >= 8 hex characters (a digit and a letter among them) between ``.``/``-``/``_`` and ``.``."""
    i, n = 0, len(name)
    while i < n:
        if name[i] not in _HEX:
            i += 1
            continue
        start = i
        while i < n and name[i] in _HEX:
            i += 1
        run = name[start:i]
        if (
            len(run) >= 8
            and start > 0
            and name[start - 1] in ".-_"
            and i < n
            and name[i] == "."
            and any(c in _DIGITS for c in run)
            and any(c not in _DIGITS for c in run)
        ):
            return True
    return False


def _is_device_name(segment: str) -> bool:
    return segment.split(".")[0].rstrip(" ").translate(_ASCII_UPPER) in _DEVICES


def split_rel_path(rel_path: str) -> list[str] | None:
    """The segments of a request path, or None when it must be refused without touching the file system."""
    rel = rel_path[1:] if rel_path.startswith("/") else rel_path
    try:
        size = len(rel.encode("utf-8"))
    except UnicodeEncodeError:  # lone surrogates: no file name we could open
        return None
    if not rel or size > _MAX_PATH_BYTES:
        return None
    segments = rel.split("/")
    for seg in segments:
        if (
            not seg
            or len(seg.encode("utf-8")) > _MAX_SEGMENT_BYTES
            or seg.endswith((".", " "))
            or any(c in "\\:" or c < " " or c == "\x7f" for c in seg)
            or _is_device_name(seg)
        ):
            return None
    return segments


def _qvalue(value: str) -> int | None:
    whole, _, frac = value.partition(".")
    if len(frac) > 3 or not all(c in _DIGITS for c in frac):
        return None
    thousandths = int(frac.ljust(3, "0"))
    if whole == "0":
        return thousandths
    if whole == "1" and thousandths == 0:
        return 1000
    return None


def accepted_encodings(header: str | None) -> tuple[bool, bool]:
    """Which codings ``Accept-Encoding`` allows: (br, gzip)."""
    if header is None:
        return False, False
    found: dict[str, int] = {}
    for item in header.split(","):
        item = item.strip(_OWS)
        if not item:
            continue
        coding, *params = item.split(";")
        coding = coding.strip(_OWS).translate(_ASCII_LOWER)
        q: int | None = 1000
        for param in params:
            param = param.strip(_OWS)
            if not param:
                continue
            name, _, value = param.partition("=")
            if name.strip(_OWS).translate(_ASCII_LOWER) == "q":
                q = _qvalue(value.strip(_OWS))
        if q is None:
            continue
        key = {"br": "br", "gzip": "gzip", "x-gzip": "gzip", "*": "*"}.get(coding)
        if key is not None and key not in found:
            found[key] = q
    star = found.get("*")

    def allowed(key: str) -> bool:
        q = found.get(key, star)
        return q is not None and q > 0

    return allowed("br"), allowed("gzip")


_U64_MAX = 2**64 - 1


def _digits(s: str) -> int | None:
    if not s or not all(c in _DIGITS for c in s):
        return None
    s = s.lstrip("0") or "0"
    return _U64_MAX if len(s) > 20 else min(int(s), _U64_MAX)


def parse_range(header: str, size: int) -> tuple[int, int] | str:
    """``(start, end)`` for 206, ``"unsatisfiable"`` for 416, or ``"ignore"`` (absent/malformed/multi: 200)."""
    unit, eq, rest = header.strip(_OWS).partition("=")
    if not eq or unit.translate(_ASCII_LOWER) != "bytes":
        return "ignore"
    spec = None
    for part in rest.split(","):
        part = part.strip(_OWS)
        if not part:
            continue
        if spec is not None:
            return "ignore"
        spec = part
    if spec is None or "-" not in spec:
        return "ignore"
    first_s, _, last_s = spec.partition("-")
    if not first_s:
        n = _digits(last_s)
        if n is None:
            return "ignore"
        if n == 0 or size == 0:
            return "unsatisfiable"
        return max(size - n, 0), size
    first = _digits(first_s)
    if first is None:
        return "ignore"
    if last_s:
        last = _digits(last_s)
        if last is None:
            return "ignore"
        if last < first:
            return "ignore"
        end = min(last + 1, size)
    else:
        end = size
    if first >= size:
        return "unsatisfiable"
    return first, end


def none_match(header: str, etag: str) -> bool:
    """Does ``If-None-Match`` match ``etag`` (weak comparison, RFC 9110 §8.8.3.2: ``W/`` ignored on both sides)?"""
    opaque = etag.removeprefix("W/")
    for item in header.split(","):
        item = item.strip(_OWS)
        if item == "*" or item.removeprefix("W/") == opaque:
            return True
    return False


def strong_match(header: str, etag: str) -> bool:
    """Does ``If-Match`` match ``etag`` (strong comparison: neither tag weak, same opaque tag)? ``*`` always does:
    the file exists (RFC 9110 §13.1.1)."""
    strong = not etag.startswith("W/")
    for item in header.split(","):
        item = item.strip(_OWS)
        if item == "*" or (strong and item == etag):
            return True
    return False


def range_condition(header: str, etag: str, last_modified: int) -> bool:
    """Is ``If-Range`` true (RFC 9110 §13.1.5)? An entity tag (it starts with ``"`` or ``W/``) must match ``etag``
    strongly; otherwise an HTTP-date must equal the ``Last-Modified`` sent (seconds); anything else is false."""
    value = header.strip(_OWS)
    if value.startswith(('"', "W/")):
        return not etag.startswith("W/") and value == etag
    date = parse_http_date(value)
    return date is not None and date == last_modified


_DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
_LONG_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
MAX_HTTP_SECONDS = 253_402_300_799


def format_http_date(seconds: int) -> str:
    """IMF-fixdate, clamped to 1970..9999."""
    t = time.gmtime(min(max(seconds, 0), MAX_HTTP_SECONDS))
    return (
        f"{_DAYS[(t.tm_wday + 1) % 7]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year:04d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    )


def _num(s: str) -> int | None:
    return int(s) if s and all(c in _DIGITS for c in s) else None


def _time_of_day(s: str) -> int | None:
    if len(s) != 8 or s[2] != ":" or s[5] != ":":
        return None
    h, m, sec = _num(s[:2]), _num(s[3:5]), _num(s[6:])
    if h is None or m is None or sec is None or h > 23 or m > 59 or sec > 60:
        return None
    return h * 3600 + m * 60 + sec


def _days_from_civil(y: int, m: int, d: int) -> int:
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m - 3 if m > 2 else m + 9) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468


def _days_in_month(y: int, m: int) -> int:
    if m == 2:
        return 29 if (y % 4 == 0 and y % 100 != 0) or y % 400 == 0 else 28
    return 30 if m in (4, 6, 9, 11) else 31


def _date_seconds(y: int | None, month: str, d: int | None, tod: int | None) -> int | None:
    if y is None or d is None or tod is None or month not in _MONTHS:
        return None
    m = _MONTHS.index(month) + 1
    if not 1 <= d <= _days_in_month(y, m):
        return None
    return _days_from_civil(y, m, d) * 86_400 + tod


def parse_http_date(value: str) -> int | None:
    """An HTTP-date in any of RFC 9110's three formats (two-digit years: 70-99 -> 19xx, else 20xx)."""
    v = value.strip(_OWS)
    if not v.isascii():
        return None
    parts = v.split(" ")
    if len(parts) == 6 and parts[5] == "GMT":
        day, dd, mon, yyyy, tod, _ = parts
        if len(day) == 4 and day[:3] in _DAYS and day.endswith(","):
            if len(dd) != 2 or len(yyyy) != 4:
                return None
            return _date_seconds(_num(yyyy), mon, _num(dd), _time_of_day(tod))
    if len(parts) == 4 and parts[3] == "GMT":
        day, date, tod, _ = parts
        if day.endswith(",") and day[:-1] in _LONG_DAYS:
            pieces = date.split("-")
            if len(pieces) != 3:
                return None
            dd, mon, yy = pieces
            if len(dd) != 2 or len(yy) != 2:
                return None
            year = _num(yy)
            if year is None:
                return None
            return _date_seconds(1900 + year if year >= 70 else 2000 + year, mon, _num(dd), _time_of_day(tod))
    if len(parts) == 6 and parts[0] in _DAYS and parts[2] == "" and len(parts[3]) == 1 and len(parts[5]) == 4:
        day, mon, _, d, tod, yyyy = parts
        return _date_seconds(_num(yyyy), mon, _num(d), _time_of_day(tod))
    if len(parts) == 5 and parts[0] in _DAYS and len(parts[2]) == 2 and len(parts[4]) == 4:
        day, mon, dd, tod, yyyy = parts
        return _date_seconds(_num(yyyy), mon, _num(dd), _time_of_day(tod))
    return None


def _inside(real: str, real_root: str) -> bool:
    prefix = real_root if real_root.endswith(os.sep) else real_root + os.sep
    return real == real_root or real.startswith(prefix)


def _regular_file(real_root: str, candidate: str, follow_symlinks: bool) -> tuple[str, int, int] | None:
    """(real path, size, mtime_ns) when ``candidate`` is a regular file inside the root (anywhere, when following).

    ``candidate`` is ``real_root`` joined with checked segments. Fast path: ``lstat`` each segment below the
    (already real) root; with no symlink on the way the candidate is its own real path. A symlink anywhere falls
    back to ``realpath`` and the containment check.
    """
    walked = real_root
    st = None
    try:
        for part in candidate[len(real_root) :].split(os.sep):
            if not part:
                continue
            walked = os.path.join(walked, part)
            st = os.lstat(walked)
            if stat.S_ISLNK(st.st_mode):
                return _resolve_symlinks(real_root, candidate, follow_symlinks)
    except (OSError, ValueError):
        return None
    if st is None or not stat.S_ISREG(st.st_mode):
        return None
    return walked, st.st_size, st.st_mtime_ns


def _resolve_symlinks(real_root: str, candidate: str, follow_symlinks: bool) -> tuple[str, int, int] | None:
    try:
        real = os.path.realpath(candidate, strict=True)
        if not follow_symlinks and not _inside(real, real_root):
            return None
        st = os.stat(real)
    except (OSError, ValueError):
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return real, st.st_size, st.st_mtime_ns


def _sibling(
    real_root: str, candidate: str, suffix: str, follow_symlinks: bool, file_is_real: bool
) -> tuple[str, int, int] | None:
    """When the file was reached without meeting a symlink, its directories are real: one ``lstat`` suffices."""
    path = candidate + suffix
    if not file_is_real:
        return _regular_file(real_root, path, follow_symlinks)
    try:
        st = os.lstat(path)
    except (OSError, ValueError):
        return None
    if stat.S_ISLNK(st.st_mode):
        return _resolve_symlinks(real_root, path, follow_symlinks)
    if not stat.S_ISREG(st.st_mode):
        return None
    return path, st.st_size, st.st_mtime_ns


def _hex_signed(v: int) -> str:
    return format(v, "x")


def resolve_in(
    real_root: str,
    rel_path: str,
    method: str,
    if_none_match: str | None,
    if_modified_since: str | None,
    range_header: str | None,
    accept_encoding: str | None,
    follow_symlinks: bool = False,
    if_match: str | None = None,
    if_unmodified_since: str | None = None,
    if_range: str | None = None,
) -> StaticResult:
    """Resolve a request against a root that is already a real path (see STATIC.md)."""
    if method != "GET" and method != "HEAD":
        return StaticResult(405, None, [("allow", "GET, HEAD")])
    segments = split_rel_path(rel_path)
    if segments is None:
        return StaticResult(404)
    candidate = os.path.join(real_root, *segments)
    file = _regular_file(real_root, candidate, follow_symlinks)
    if file is None:
        return StaticResult(404)
    file_is_real = file[0] == candidate
    br = _sibling(real_root, candidate, ".br", follow_symlinks, file_is_real)
    gz = _sibling(real_root, candidate, ".gz", follow_symlinks, file_is_real)
    vary = br is not None or gz is not None
    accepts_br, accepts_gzip = accepted_encodings(accept_encoding)
    if br is not None and accepts_br:
        chosen, coding, suffix = br, "br", "-br"
    elif gz is not None and accepts_gzip:
        chosen, coding, suffix = gz, "gzip", "-gz"
    else:
        chosen, coding, suffix = file, None, ""
    real, size, mtime_ns = chosen
    name = segments[-1]
    etag = f'"{size:x}-{_hex_signed(mtime_ns)}{suffix}"'
    mtime_seconds = mtime_ns // 1_000_000_000
    last_modified = min(max(mtime_seconds, 0), MAX_HTTP_SECONDS)  # the second Last-Modified shows
    cache_control = CACHE_IMMUTABLE if is_fingerprinted(name) else CACHE_REVALIDATE

    # RFC 9110 §13.2.2, steps 1-2: the state the client expects, else 412.
    if if_match is not None:
        failed = not strong_match(if_match, etag)
    elif if_unmodified_since is not None:
        date = parse_http_date(if_unmodified_since)
        failed = date is not None and mtime_seconds > date
    else:
        failed = False
    if failed:
        return StaticResult(412, None, [("vary", "accept-encoding")] if vary else [])
    # Steps 3-4: the client's copy is current: 304.
    if if_none_match is not None:
        not_modified = none_match(if_none_match, etag)
    elif if_modified_since is not None:
        date = parse_http_date(if_modified_since)
        not_modified = date is not None and mtime_seconds <= date
    else:
        not_modified = False
    if not_modified:
        headers = [("etag", etag), ("cache-control", cache_control)]
        if vary:
            headers.append(("vary", "accept-encoding"))
        return StaticResult(304, None, headers)

    # Step 5: a Range only applies while If-Range (when sent) still names this representation.
    if range_header is not None and if_range is not None and not range_condition(if_range, etag, last_modified):
        range_header = None
    outcome = "ignore" if range_header is None else parse_range(range_header, size)
    if outcome == "unsatisfiable":
        return StaticResult(416, None, [("content-range", f"bytes */{size}")])
    if outcome == "ignore":
        status, start, end = 200, 0, size
    else:
        assert isinstance(outcome, tuple)
        status, (start, end) = 206, outcome
    headers = [
        ("content-type", content_type(name)),
        ("content-length", str(end - start)),
        ("etag", etag),
        ("last-modified", format_http_date(last_modified)),
        ("cache-control", cache_control),
        ("accept-ranges", "bytes"),
    ]
    if vary:
        headers.append(("vary", "accept-encoding"))
    if coding is not None:
        headers.append(("content-encoding", coding))
    if status == 206:
        headers.append(("content-range", f"bytes {start}-{end - 1}/{size}"))
    return StaticResult(status, real, headers, start, end)


def resolve(
    root: str | os.PathLike[str],
    rel_path: str,
    method: str,
    if_none_match: str | None,
    if_modified_since: str | None,
    range_header: str | None,
    accept_encoding: str | None,
    follow_symlinks: bool = False,
    *,
    if_match: str | None = None,
    if_unmodified_since: str | None = None,
    if_range: str | None = None,
) -> StaticResult:
    """Resolve a request for a file under ``root`` (made real first; a missing root answers 404)."""
    if method != "GET" and method != "HEAD":
        return StaticResult(405, None, [("allow", "GET, HEAD")])
    try:
        real_root = os.path.realpath(root, strict=True)
    except (OSError, ValueError):
        return StaticResult(404)
    return resolve_in(
        real_root,
        rel_path,
        method,
        if_none_match,
        if_modified_since,
        range_header,
        accept_encoding,
        follow_symlinks,
        if_match,
        if_unmodified_since,
        if_range,
    )


class StaticResolver:
    """A resolver bound to one root, made real once (FileNotFoundError / NotADirectoryError otherwise)."""

    __slots__ = ("follow_symlinks", "root")

    def __init__(self, root: str | os.PathLike[str], follow_symlinks: bool = False) -> None:
        real_root = os.path.realpath(root, strict=True)
        if not os.path.isdir(real_root):
            raise NotADirectoryError(f"static root {real_root} is not a directory")
        self.root = real_root
        self.follow_symlinks = follow_symlinks

    def resolve(
        self,
        rel_path: str,
        method: str,
        if_none_match: str | None,
        if_modified_since: str | None,
        range_header: str | None,
        accept_encoding: str | None,
        *,
        if_match: str | None = None,
        if_unmodified_since: str | None = None,
        if_range: str | None = None,
    ) -> StaticResult:
        return resolve_in(
            self.root,
            rel_path,
            method,
            if_none_match,
            if_modified_since,
            range_header,
            accept_encoding,
            self.follow_symlinks,
            if_match,
            if_unmodified_since,
            if_range,
        )
