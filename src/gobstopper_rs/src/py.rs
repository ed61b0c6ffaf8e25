//! The Python module `gobstopper_rs`: `Router`, `resolve`, `StaticResolver`, `StaticResult` and the exceptions.

use crate::pattern::{parse, Conv, PatternError};
use crate::router::{Outcome, Router as CoreRouter, Value};
use crate::statics::{self, Request, Resolved};
use pyo3::create_exception;
use pyo3::exceptions::{PyAttributeError, PyOverflowError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyFloat, PyFrozenSet, PyInt, PyString, PyTuple};
use pyo3::{ffi, intern};
use std::borrow::Cow;
use std::path::PathBuf;

create_exception!(gobstopper_rs, RouteConflict, PyValueError, "Two routes claim the same method for the same pattern.");
create_exception!(
    gobstopper_rs,
    UnsupportedConvertor,
    PyValueError,
    "The route uses a convertor gobstopper_rs does not implement; use the Python router."
);

/// A `str` as WTF-8: its UTF-8 bytes, or (with lone surrogates) what `encode("utf-8", "surrogatepass")` gives.
fn wtf8<'a>(s: &'a Bound<'_, PyString>) -> PyResult<Cow<'a, [u8]>> {
    match s.to_str() {
        Ok(text) => Ok(Cow::Borrowed(text.as_bytes())),
        Err(_) => {
            let encoded = s.call_method1(intern!(s.py(), "encode"), ("utf-8", "surrogatepass"))?;
            Ok(Cow::Owned(encoded.cast::<PyBytes>()?.as_bytes().to_vec()))
        }
    }
}

/// The inverse of [`wtf8`].
fn py_str<'py>(py: Python<'py>, bytes: &[u8]) -> PyResult<Bound<'py, PyString>> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok(PyString::new(py, text));
    }
    // SAFETY: the pointer and length describe a live byte slice; the error handler name is a C string literal.
    unsafe {
        let obj =
            ffi::PyUnicode_DecodeUTF8(bytes.as_ptr().cast(), bytes.len() as ffi::Py_ssize_t, c"surrogatepass".as_ptr());
        Bound::from_owned_ptr_or_err(py, obj).map(|o| o.cast_into_unchecked())
    }
}

struct Handler {
    endpoint: Py<PyAny>,
    names: Vec<Py<PyString>>,
}

struct Lookups {
    uuid: Py<PyAny>,
    fromisoformat: Py<PyAny>,
}

fn lookups(py: Python<'_>) -> PyResult<&Lookups> {
    static CELL: PyOnceLock<Lookups> = PyOnceLock::new();
    CELL.get_or_try_init(py, || {
        Ok(Lookups {
            uuid: py.import("uuid")?.getattr("UUID")?.unbind(),
            fromisoformat: py.import("datetime")?.getattr("date")?.getattr("fromisoformat")?.unbind(),
        })
    })
}

/// `int` values have at most this many digits; the messages of a bad value. Equal to `MAX_INT_DIGITS`,
/// `INT_TOO_LONG` and `FLOAT_NOT_FINITE` in `gobstopper/core/_convertors.py` (the twin tests compare answers).
const MAX_INT_DIGITS: usize = 4300;
const INT_TOO_LONG: &str = "more than 4300 digits";
const FLOAT_NOT_FINITE: &str = "too large to be a finite float";

/// The Python object `gobstopper/core/_convertors.py`'s convertor returns for `text` (same value, same errors).
fn convert_value<'py>(py: Python<'py>, conv: Conv, text: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    match conv {
        Conv::Str | Conv::Path => Ok(py_str(py, text)?.into_any()),
        Conv::Int if text.len() <= 18 => {
            let digits = std::str::from_utf8(text).expect("int values are ASCII digits");
            Ok(digits.parse::<u64>().expect("at most 18 digits").into_pyobject(py)?.into_any())
        }
        Conv::Int if text.len() > MAX_INT_DIGITS => Err(PyValueError::new_err(INT_TOO_LONG)),
        // Long values go through Python's own int(): the same value.
        Conv::Int => py.get_type::<PyInt>().call1((py_str(py, text)?,)),
        Conv::Float => {
            // Both are correctly rounded (IEEE 754 round-to-nearest), so they give the same float; Python's
            // float() keeps long inputs cheap to reason about.
            let value = if text.len() <= 40 {
                std::str::from_utf8(text).expect("float values are ASCII").parse::<f64>().expect("float regex")
            } else {
                py.get_type::<PyFloat>().call1((py_str(py, text)?,))?.extract::<f64>()?
            };
            if !value.is_finite() {
                return Err(PyValueError::new_err(FLOAT_NOT_FINITE));
            }
            Ok(PyFloat::new(py, value).into_any())
        }
        Conv::Uuid => lookups(py)?.uuid.bind(py).call1((py_str(py, text)?,)),
        Conv::Date => lookups(py)?.fromisoformat.bind(py).call1((py_str(py, text)?,)),
    }
}

type BadParam = (Py<PyString>, Py<PyString>);

fn convert_all<'py>(
    py: Python<'py>,
    handler: &Handler,
    values: &[Value],
    path: &[u8],
) -> PyResult<Result<Bound<'py, PyDict>, BadParam>> {
    let params = PyDict::new(py);
    for (name, value) in handler.names.iter().zip(values) {
        match convert_value(py, value.conv, &path[value.start..value.end]) {
            Ok(obj) => params.set_item(name.bind(py), obj)?,
            Err(err) if err.is_instance_of::<PyValueError>(py) || err.is_instance_of::<PyOverflowError>(py) => {
                let message =
                    format!("Invalid value for path parameter {}: {}", name.bind(py).repr()?, err.value(py).str()?);
                return Ok(Err((name.clone_ref(py), PyString::new(py, &message).unbind())));
            }
            Err(err) => return Err(err),
        }
    }
    Ok(Ok(params))
}

fn pattern_error(py: Python<'_>, pattern: &Bound<'_, PyString>, error: PatternError) -> PyResult<PyErr> {
    let fmt = |template: &str, args: Bound<'_, PyTuple>| -> PyResult<String> {
        PyString::new(py, template).call_method1(intern!(py, "format"), args)?.extract()
    };
    Ok(match error {
        PatternError::NoLeadingSlash => {
            PyValueError::new_err(fmt("route pattern {!r} must start with '/'", (pattern,).into_pyobject(py)?)?)
        }
        PatternError::DuplicateName(name) => PyValueError::new_err(fmt(
            "route pattern {!r} uses the parameter name {!r} twice",
            (pattern, name).into_pyobject(py)?,
        )?),
        PatternError::Malformed(raw) => PyValueError::new_err(fmt(
            "route pattern {!r} has a malformed placeholder in {!r}",
            (pattern, py_str(py, &raw)?).into_pyobject(py)?,
        )?),
        PatternError::Adjacent(first, second) => PyValueError::new_err(fmt(
            "route pattern {!r} has the parameters {!r} and {!r} with nothing between them: put literal text \
             between two parameters",
            (pattern, first, second).into_pyobject(py)?,
        )?),
        PatternError::Unsupported(conv) => UnsupportedConvertor::new_err(fmt(
            "route pattern {!r} uses the convertor {!r}, which gobstopper_rs does not implement",
            (pattern, conv).into_pyobject(py)?,
        )?),
    })
}

/// The native router: the same API and answers as `gobstopper._native.router.Router`.
#[pyclass(module = "gobstopper_rs")]
struct Router {
    inner: CoreRouter<Handler>,
}

#[pymethods]
impl Router {
    #[new]
    fn new() -> Self {
        Router { inner: CoreRouter::new() }
    }

    /// Register `endpoint` for `methods` on `pattern`.
    fn add(
        &mut self,
        py: Python<'_>,
        pattern: &Bound<'_, PyString>,
        methods: &Bound<'_, PyAny>,
        endpoint: Py<PyAny>,
    ) -> PyResult<()> {
        let pattern_bytes = wtf8(pattern)?;
        let segments = match parse(&pattern_bytes) {
            Ok(segments) => segments,
            Err(error) => return Err(pattern_error(py, pattern, error)?),
        };
        let names: Vec<Py<PyString>> =
            segments.iter().flat_map(|s| &s.names).map(|n| PyString::intern(py, n).unbind()).collect();
        let mut upper = Vec::new();
        let mut upper_py = Vec::new();
        for method in methods.try_iter()? {
            let method = method?.call_method0(intern!(py, "upper"))?.cast_into::<PyString>()?;
            upper.push(wtf8(&method)?.into_owned());
            upper_py.push(method);
        }
        let result = self.inner.insert(
            &pattern_bytes,
            &segments,
            &upper,
            || Handler { endpoint: endpoint.clone_ref(py), names: names.iter().map(|n| n.clone_ref(py)).collect() },
            |method, existing| -> PyResult<PyErr> {
                let index = upper.iter().position(|m| m == method).expect("a requested method");
                let existing = existing.endpoint.bind(py);
                let shown = match existing.getattr(intern!(py, "pattern")) {
                    Ok(p) => p,
                    Err(e) if e.is_instance_of::<PyAttributeError>(py) => existing.clone(),
                    Err(e) => return Err(e),
                };
                let message: String =
                    PyString::new(py, "{0} {1} conflicts with an equivalent route already registered for {0} ({2!s})")
                        .call_method1(intern!(py, "format"), (&upper_py[index], pattern, shown))?
                        .extract()?;
                Ok(RouteConflict::new_err(message))
            },
        );
        match result {
            Ok(()) => Ok(()),
            Err(Ok(conflict)) => Err(conflict),
            Err(Err(error)) => Err(error),
        }
    }

    /// `(0, endpoint, params)` | `(1, name, message)` | `(2, frozenset(methods), None)` | `(3, None, None)`.
    #[pyo3(name = "match")]
    fn match_<'py>(
        &self,
        py: Python<'py>,
        method: &Bound<'py, PyString>,
        path: &Bound<'py, PyString>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let method = wtf8(method)?;
        let path = wtf8(path)?;
        let outcome = self.inner.find(&method, &path, |h, values, p| convert_all(py, h, values, p))?;
        match outcome {
            Outcome::Found(handler, params) => (0u8, handler.endpoint.bind(py), params).into_pyobject(py),
            Outcome::BadParam((name, message)) => (1u8, name, message).into_pyobject(py),
            Outcome::NotAllowed(methods) => {
                let methods = methods.iter().map(|m| py_str(py, m)).collect::<PyResult<Vec<_>>>()?;
                (2u8, PyFrozenSet::new(py, &methods)?, py.None()).into_pyobject(py)
            }
            Outcome::NotFound => (3u8, py.None(), py.None()).into_pyobject(py),
        }
    }
}

/// The answer of the static resolver (see STATIC.md).
#[pyclass(module = "gobstopper_rs", frozen, eq)]
#[derive(PartialEq)]
struct StaticResult {
    #[pyo3(get)]
    status: u16,
    path_buf: Option<PathBuf>,
    headers_vec: Vec<(&'static str, String)>,
    #[pyo3(get)]
    start: u64,
    #[pyo3(get)]
    end: u64,
}

#[pymethods]
impl StaticResult {
    #[getter]
    fn path<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        Ok(self.path_buf.as_ref().map(|p| p.as_os_str().into_pyobject(py).map(Bound::into_any)).transpose()?)
    }

    #[getter]
    fn headers(&self) -> Vec<(&'static str, String)> {
        self.headers_vec.clone()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let path = self.path(py)?.map_or(Ok("None".to_string()), |p| p.repr().map(|r| r.to_string()))?;
        Ok(format!(
            "StaticResult(status={}, path={}, headers={:?}, start={}, end={})",
            self.status, path, self.headers_vec, self.start, self.end
        ))
    }
}

impl From<Resolved> for StaticResult {
    fn from(r: Resolved) -> Self {
        StaticResult { status: r.status, path_buf: r.path, headers_vec: r.headers, start: r.start, end: r.end }
    }
}

/// Header values are compared and parsed, never echoed: a `str` with lone surrogates can match nothing, so the
/// lossy form answers the same.
fn header(value: Option<&Bound<'_, PyString>>) -> Option<String> {
    value.map(|v| v.to_string_lossy().into_owned())
}

struct OwnedRequest {
    rel_path: Option<String>,
    method: String,
    if_none_match: Option<String>,
    if_modified_since: Option<String>,
    range: Option<String>,
    accept_encoding: Option<String>,
    if_match: Option<String>,
    if_unmodified_since: Option<String>,
    if_range: Option<String>,
}

/// The header arguments of a resolve call, as Python passed them.
struct Headers<'a, 'py> {
    if_none_match: Option<&'a Bound<'py, PyString>>,
    if_modified_since: Option<&'a Bound<'py, PyString>>,
    range: Option<&'a Bound<'py, PyString>>,
    accept_encoding: Option<&'a Bound<'py, PyString>>,
    if_match: Option<&'a Bound<'py, PyString>>,
    if_unmodified_since: Option<&'a Bound<'py, PyString>>,
    if_range: Option<&'a Bound<'py, PyString>>,
}

impl OwnedRequest {
    fn new(rel_path: &Bound<'_, PyString>, method: &Bound<'_, PyString>, h: Headers<'_, '_>) -> Self {
        OwnedRequest {
            // A path with lone surrogates names no file we could open: 404, as in the twin.
            rel_path: rel_path.to_str().ok().map(str::to_owned),
            method: method.to_string_lossy().into_owned(),
            if_none_match: header(h.if_none_match),
            if_modified_since: header(h.if_modified_since),
            range: header(h.range),
            accept_encoding: header(h.accept_encoding),
            if_match: header(h.if_match),
            if_unmodified_since: header(h.if_unmodified_since),
            if_range: header(h.if_range),
        }
    }

    fn run(&self, f: impl FnOnce(&Request<'_>) -> Resolved) -> Resolved {
        let req = Request {
            rel_path: self.rel_path.as_deref().unwrap_or(""),
            method: &self.method,
            if_none_match: self.if_none_match.as_deref(),
            if_modified_since: self.if_modified_since.as_deref(),
            range: self.range.as_deref(),
            accept_encoding: self.accept_encoding.as_deref(),
            if_match: self.if_match.as_deref(),
            if_unmodified_since: self.if_unmodified_since.as_deref(),
            if_range: self.if_range.as_deref(),
        };
        if self.rel_path.is_none() && (req.method == "GET" || req.method == "HEAD") {
            return Resolved { status: 404, path: None, headers: Vec::new(), start: 0, end: 0 };
        }
        f(&req)
    }
}

/// Resolve a request for a file under `root` (see STATIC.md). The file system work runs without the GIL.
#[pyfunction]
#[pyo3(signature = (root, rel_path, method, if_none_match, if_modified_since, range_header, accept_encoding,
                    follow_symlinks=false, *, if_match=None, if_unmodified_since=None, if_range=None))]
#[allow(clippy::too_many_arguments)]
fn resolve(
    py: Python<'_>,
    root: PathBuf,
    rel_path: &Bound<'_, PyString>,
    method: &Bound<'_, PyString>,
    if_none_match: Option<&Bound<'_, PyString>>,
    if_modified_since: Option<&Bound<'_, PyString>>,
    range_header: Option<&Bound<'_, PyString>>,
    accept_encoding: Option<&Bound<'_, PyString>>,
    follow_symlinks: bool,
    if_match: Option<&Bound<'_, PyString>>,
    if_unmodified_since: Option<&Bound<'_, PyString>>,
    if_range: Option<&Bound<'_, PyString>>,
) -> StaticResult {
    let headers = Headers {
        if_none_match,
        if_modified_since,
        range: range_header,
        accept_encoding,
        if_match,
        if_unmodified_since,
        if_range,
    };
    let req = OwnedRequest::new(rel_path, method, headers);
    py.detach(|| req.run(|r| statics::resolve(&root, r, follow_symlinks))).into()
}

/// A resolver bound to one root, made real once at construction (FileNotFoundError when it does not exist).
#[pyclass(module = "gobstopper_rs", frozen)]
struct StaticResolver {
    real_root: PathBuf,
    #[pyo3(get)]
    follow_symlinks: bool,
}

#[pymethods]
impl StaticResolver {
    #[new]
    #[pyo3(signature = (root, follow_symlinks=false))]
    fn new(py: Python<'_>, root: PathBuf, follow_symlinks: bool) -> PyResult<Self> {
        let real_root = py.detach(|| std::fs::canonicalize(&root))?;
        if !real_root.is_dir() {
            return Err(pyo3::exceptions::PyNotADirectoryError::new_err(format!(
                "static root {} is not a directory",
                real_root.display()
            )));
        }
        Ok(StaticResolver { real_root, follow_symlinks })
    }

    /// The real path of the root.
    #[getter]
    fn root<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(self.real_root.as_os_str().into_pyobject(py)?.into_any())
    }

    #[pyo3(signature = (rel_path, method, if_none_match, if_modified_since, range_header, accept_encoding, *,
                        if_match=None, if_unmodified_since=None, if_range=None))]
    #[allow(clippy::too_many_arguments)]
    fn resolve(
        &self,
        py: Python<'_>,
        rel_path: &Bound<'_, PyString>,
        method: &Bound<'_, PyString>,
        if_none_match: Option<&Bound<'_, PyString>>,
        if_modified_since: Option<&Bound<'_, PyString>>,
        range_header: Option<&Bound<'_, PyString>>,
        accept_encoding: Option<&Bound<'_, PyString>>,
        if_match: Option<&Bound<'_, PyString>>,
        if_unmodified_since: Option<&Bound<'_, PyString>>,
        if_range: Option<&Bound<'_, PyString>>,
    ) -> StaticResult {
        let headers = Headers {
            if_none_match,
            if_modified_since,
            range: range_header,
            accept_encoding,
            if_match,
            if_unmodified_since,
            if_range,
        };
        let req = OwnedRequest::new(rel_path, method, headers);
        py.detach(|| req.run(|r| statics::resolve_in(&self.real_root, r, self.follow_symlinks))).into()
    }
}

/// `Content-Type` for a file name, from the shared table.
#[pyfunction]
fn content_type(name: &str) -> String {
    statics::content_type(name)
}

/// Whether a file name looks fingerprinted (gets `immutable` caching).
#[pyfunction]
fn is_fingerprinted(name: &str) -> bool {
    statics::is_fingerprinted(name)
}

#[pymodule]
fn gobstopper_rs(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<Router>()?;
    m.add_class::<StaticResult>()?;
    m.add_class::<StaticResolver>()?;
    m.add_function(wrap_pyfunction!(resolve, m)?)?;
    m.add_function(wrap_pyfunction!(content_type, m)?)?;
    m.add_function(wrap_pyfunction!(is_fingerprinted, m)?)?;
    m.add("RouteConflict", py.get_type::<RouteConflict>())?;
    m.add("UnsupportedConvertor", py.get_type::<UnsupportedConvertor>())?;
    m.add("FOUND", 0)?;
    m.add("BAD_PARAM", 1)?;
    m.add("METHOD_NOT_ALLOWED", 2)?;
    m.add("NOT_FOUND", 3)?;
    m.add("MIME_TYPES", statics::mime_types().to_vec())?;
    let regexes = PyDict::new(py);
    for conv in Conv::ALL {
        regexes.set_item(conv.name(), conv.python_regex())?;
    }
    m.add("CONVERTOR_REGEXES", regexes)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
