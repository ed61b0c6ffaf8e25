//! The segment-trie router: a line-by-line port of `gobstopper/core/_router.py` (read its module docstring for the
//! semantics; every rule there holds here, in the same order).
//!
//! The router is generic over the target type `T` and leaves value conversion to a callback, so the Python
//! bindings convert with Python objects while the Rust tests use plain Rust values.

use crate::pattern::{Conv, Segment};
use regex::bytes::Regex;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// FxHash (as in rustc): route tables are built from the app's own patterns and only *looked up* with request
/// data, so a fast non-keyed hash cannot be flooded.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
            self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(SEED);
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.write(&[i]);
    }

    fn write_usize(&mut self, i: usize) {
        self.write(&i.to_le_bytes());
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type Map<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// A captured parameter: its convertor and its byte range in the matched path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Value {
    pub conv: Conv,
    pub start: usize,
    pub end: usize,
}

/// The routes registered at one trie position, by method, in registration order.
pub struct Targets<T> {
    entries: Vec<(Box<[u8]>, T)>,
}

impl<T> Targets<T> {
    fn new() -> Self {
        Targets { entries: Vec::new() }
    }

    pub fn get(&self, method: &[u8]) -> Option<&T> {
        self.entries.iter().find(|(m, _)| &**m == method).map(|(_, t)| t)
    }

    fn set(&mut self, method: &[u8], target: T) {
        match self.entries.iter_mut().find(|(m, _)| &**m == method) {
            Some(entry) => entry.1 = target,
            None => self.entries.push((method.into(), target)),
        }
    }

    /// The target for `method`, with `HEAD` falling back to `GET`.
    fn for_method(&self, method: &[u8]) -> Option<&T> {
        self.get(method).or_else(|| if method == b"HEAD" { self.get(b"GET") } else { None })
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn methods(&self) -> impl Iterator<Item = &[u8]> {
        self.entries.iter().map(|(m, _)| &**m)
    }
}

enum Matcher {
    /// A lone `<str>` segment: any non-empty segment.
    NonEmpty,
    /// A lone `<int>` segment: ASCII digits.
    Digits,
    Regex(Regex),
}

struct Dynamic {
    key: Vec<u8>,
    rank: u8,
    order: u64,
    matcher: Matcher,
    convs: Vec<Conv>,
    node: usize,
}

struct Tail<T> {
    key: Vec<u8>,
    segment_count: usize,
    order: u64,
    regex: Regex,
    convs: Vec<Conv>,
    targets: Targets<T>,
}

struct Node<T> {
    statics: Map<Box<[u8]>, usize>,
    dynamic: Vec<Dynamic>,
    tails: Vec<Tail<T>>,
    targets: Targets<T>,
}

impl<T> Node<T> {
    fn new() -> Self {
        Node { statics: Map::default(), dynamic: Vec::new(), tails: Vec::new(), targets: Targets::new() }
    }
}

/// The answer to a lookup. `NotAllowed` lists each candidate method once.
pub enum Outcome<'r, T, P, B> {
    Found(&'r T, P),
    BadParam(B),
    NotAllowed(Vec<&'r [u8]>),
    NotFound,
}

pub struct Router<T> {
    nodes: Vec<Node<T>>,
    order: u64,
    /// Patterns without placeholders -> their node: one hash lookup answers most requests.
    statics: Map<Box<[u8]>, usize>,
}

impl<T> Default for Router<T> {
    fn default() -> Self {
        Self::new()
    }
}

fn full_regex(source: &str) -> Regex {
    Regex::new(&format!("^(?:{source})$")).expect("route regexes are built from escaped text and fixed parts")
}

impl<T> Router<T> {
    pub fn new() -> Self {
        Router { nodes: vec![Node::new()], order: 0, statics: Map::default() }
    }

    fn next_order(&mut self) -> u64 {
        self.order += 1;
        self.order
    }

    /// Register `make()` for each method (already upper-cased) of the parsed `pattern`.
    ///
    /// As in Python, trie nodes are created before the conflict check, so a refused route still leaves them.
    pub fn insert<E>(
        &mut self,
        pattern: &[u8],
        segments: &[Segment],
        methods: &[Vec<u8>],
        mut make: impl FnMut() -> T,
        conflict: impl FnOnce(&[u8], &T) -> E,
    ) -> Result<(), E> {
        let mut node = 0;
        let mut tail = None;
        for (index, seg) in segments.iter().enumerate() {
            if seg.is_static() {
                node = self.static_child(node, &seg.literals[0]);
                continue;
            }
            if seg.has_path() {
                tail = Some(self.tail(node, &segments[index..]));
                break;
            }
            node = self.dynamic(node, seg);
        }
        let targets = match tail {
            Some(t) => &mut self.nodes[node].tails[t].targets,
            None => &mut self.nodes[node].targets,
        };
        for method in methods {
            if let Some(existing) = targets.get(method) {
                return Err(conflict(method, existing));
            }
        }
        for method in methods {
            targets.set(method, make());
        }
        if segments.iter().all(Segment::is_static) {
            self.statics.insert(pattern.into(), node);
        }
        Ok(())
    }

    fn static_child(&mut self, node: usize, literal: &[u8]) -> usize {
        if let Some(&child) = self.nodes[node].statics.get(literal) {
            return child;
        }
        let child = self.nodes.len();
        self.nodes.push(Node::new());
        self.nodes[node].statics.insert(literal.into(), child);
        child
    }

    fn dynamic(&mut self, node: usize, seg: &Segment) -> usize {
        let key = seg.key();
        if let Some(d) = self.nodes[node].dynamic.iter().find(|d| d.key == key) {
            return d.node;
        }
        let lone = seg.convs.len() == 1 && seg.literals.iter().all(|l| l.is_empty());
        let matcher = match (lone, seg.convs[0]) {
            (true, Conv::Str) => Matcher::NonEmpty,
            (true, Conv::Int) => Matcher::Digits,
            _ => Matcher::Regex(full_regex(&seg.regex_source())),
        };
        let child = self.nodes.len();
        self.nodes.push(Node::new());
        let order = self.next_order();
        let list = &mut self.nodes[node].dynamic;
        list.push(Dynamic { key, rank: seg.rank(), order, matcher, convs: seg.convs.clone(), node: child });
        list.sort_by_key(|d| (d.rank, d.order));
        child
    }

    fn tail(&mut self, node: usize, segments: &[Segment]) -> usize {
        let key = segments.iter().map(Segment::key).collect::<Vec<_>>().join(&b'/');
        if let Some(i) = self.nodes[node].tails.iter().position(|t| t.key == key) {
            return i;
        }
        let source = segments.iter().map(Segment::regex_source).collect::<Vec<_>>().join("/");
        let order = self.next_order();
        let tails = &mut self.nodes[node].tails;
        tails.push(Tail {
            key: key.clone(),
            segment_count: segments.len(),
            order,
            regex: full_regex(&source),
            convs: segments.iter().flat_map(|s| s.convs.iter().copied()).collect(),
            targets: Targets::new(),
        });
        tails.sort_by_key(|t| (std::cmp::Reverse(t.segment_count), t.order));
        tails.iter().position(|t| t.key == key).expect("just inserted")
    }

    /// Find the route for `method` and `path` (WTF-8). `convert(target, values, path)` turns the captured values
    /// into parameters: `Ok(Ok(params))`, `Ok(Err(bad))` for a value its convertor refuses (the search goes on),
    /// or `Err(e)` to abort the whole lookup.
    pub fn find<'r, P, B, E>(
        &'r self,
        method: &[u8],
        path: &[u8],
        mut convert: impl FnMut(&T, &[Value], &[u8]) -> Result<Result<P, B>, E>,
    ) -> Result<Outcome<'r, T, P, B>, E> {
        if let Some(&node) = self.statics.get(path) {
            if let Some(target) = self.nodes[node].targets.for_method(method) {
                if let Ok(params) = convert(target, &[], path)? {
                    return Ok(Outcome::Found(target, params));
                }
            }
        }
        // `path[1:].split("/")`: drop the first character (whatever it is), then split.
        let first = match path.first() {
            None => 0,
            Some(&b) if b < 0x80 => 1,
            Some(&b) if b < 0xE0 => 2,
            Some(&b) if b < 0xF0 => 3,
            Some(_) => 4,
        }
        .min(path.len());
        // Segment bounds live on the stack for the usual short paths.
        let mut inline = [(0usize, 0usize); 16];
        let mut spilled = Vec::new();
        let mut count = 0;
        let mut start = first;
        let bounds = path.iter().enumerate().skip(first).filter(|&(_, &b)| b == b'/').map(|(i, _)| i);
        for end in bounds.chain(std::iter::once(path.len())) {
            if count < inline.len() {
                inline[count] = (start, end);
            } else {
                if spilled.is_empty() {
                    spilled.extend_from_slice(&inline);
                }
                spilled.push((start, end));
            }
            count += 1;
            start = end + 1;
        }
        let segs = if count <= inline.len() { &inline[..count] } else { &spilled[..] };
        let mut search = Search {
            router: self,
            path,
            segs,
            method,
            values: Vec::new(),
            allowed: Vec::new(),
            bad: None,
            convert: &mut convert,
        };
        if let Some((target, params)) = search.search(0, 0)? {
            return Ok(Outcome::Found(target, params));
        }
        if let Some(bad) = search.bad {
            return Ok(Outcome::BadParam(bad));
        }
        if !search.allowed.is_empty() {
            let mut allowed = search.allowed;
            allowed.sort_unstable();
            allowed.dedup();
            return Ok(Outcome::NotAllowed(allowed));
        }
        Ok(Outcome::NotFound)
    }
}

struct Search<'r, 'p, 'c, T, B, F> {
    router: &'r Router<T>,
    path: &'p [u8],
    segs: &'p [(usize, usize)],
    method: &'p [u8],
    values: Vec<Value>,
    allowed: Vec<&'r [u8]>,
    bad: Option<B>,
    convert: &'c mut F,
}

impl<'r, T, P, B, E, F> Search<'r, '_, '_, T, B, F>
where
    F: FnMut(&T, &[Value], &[u8]) -> Result<Result<P, B>, E>,
{
    fn search(&mut self, node: usize, i: usize) -> Result<Option<(&'r T, P)>, E> {
        let router = self.router;
        let node = &router.nodes[node];
        if i == self.segs.len() {
            if node.targets.is_empty() {
                return Ok(None);
            }
            return self.candidate(&node.targets);
        }
        let (start, end) = self.segs[i];
        let seg = &self.path[start..end];
        if let Some(&child) = node.statics.get(seg) {
            if let Some(found) = self.search(child, i + 1)? {
                return Ok(Some(found));
            }
        }
        for dynamic in &node.dynamic {
            let n = self.values.len();
            let matched = match &dynamic.matcher {
                Matcher::NonEmpty => !seg.is_empty(),
                Matcher::Digits => !seg.is_empty() && seg.iter().all(u8::is_ascii_digit),
                Matcher::Regex(re) => self.capture(re, start, end, &dynamic.convs),
            };
            if !matched {
                continue;
            }
            if self.values.len() == n {
                self.values.push(Value { conv: dynamic.convs[0], start, end });
            }
            if let Some(found) = self.search(dynamic.node, i + 1)? {
                return Ok(Some(found));
            }
            self.values.truncate(n);
        }
        if !node.tails.is_empty() {
            let rest = start;
            for tail in &node.tails {
                let n = self.values.len();
                if !self.capture(&tail.regex, rest, self.path.len(), &tail.convs) {
                    continue;
                }
                let found = self.candidate(&tail.targets)?;
                self.values.truncate(n);
                if found.is_some() {
                    return Ok(found);
                }
            }
        }
        Ok(None)
    }

    /// Full-match `re` against `path[start..end]`, pushing one value per convertor group.
    fn capture(&mut self, re: &Regex, start: usize, end: usize, convs: &[Conv]) -> bool {
        let mut locations = re.capture_locations();
        if re.captures_read(&mut locations, &self.path[start..end]).is_none() {
            return false;
        }
        for (k, &conv) in convs.iter().enumerate() {
            let (s, e) = locations.get(k + 1).expect("every convertor group takes part in a match");
            self.values.push(Value { conv, start: start + s, end: start + e });
        }
        true
    }

    fn candidate(&mut self, targets: &'r Targets<T>) -> Result<Option<(&'r T, P)>, E> {
        match targets.for_method(self.method) {
            None => {
                self.allowed.extend(targets.methods());
                Ok(None)
            }
            Some(target) => match (self.convert)(target, &self.values, self.path)? {
                Ok(params) => Ok(Some((target, params))),
                Err(bad) => {
                    if self.bad.is_none() {
                        self.bad = Some(bad);
                    }
                    Ok(None)
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::parse;

    /// A target: endpoint id and parameter names. Conversion: int parses (fails beyond u64), others as strings.
    struct T(u32, Vec<String>);

    type Params = Vec<(String, String)>;

    fn router(routes: &[(&str, &[&str], u32)]) -> Router<T> {
        let mut r = Router::new();
        for &(pattern, methods, id) in routes {
            let segs = parse(pattern.as_bytes()).unwrap();
            let names: Vec<String> = segs.iter().flat_map(|s| s.names.clone()).collect();
            let methods: Vec<Vec<u8>> = methods.iter().map(|m| m.as_bytes().to_vec()).collect();
            r.insert(pattern.as_bytes(), &segs, &methods, || T(id, names.clone()), |_, _| ()).unwrap();
        }
        r
    }

    #[derive(Debug, PartialEq)]
    enum R {
        Found(u32, Params),
        Bad(String),
        NotAllowed(Vec<String>),
        NotFound,
    }

    fn find(r: &Router<T>, method: &str, path: &str) -> R {
        let outcome = r
            .find(method.as_bytes(), path.as_bytes(), |t: &T, values: &[Value], p: &[u8]| {
                let mut params = Vec::new();
                for (name, v) in t.1.iter().zip(values) {
                    let text = String::from_utf8(p[v.start..v.end].to_vec()).unwrap();
                    if v.conv == Conv::Int && text.parse::<u64>().is_err() {
                        return Ok::<_, ()>(Err(name.clone()));
                    }
                    params.push((name.clone(), text));
                }
                Ok(Ok(params))
            })
            .unwrap();
        match outcome {
            Outcome::Found(t, p) => R::Found(t.0, p),
            Outcome::BadParam(b) => R::Bad(b),
            Outcome::NotAllowed(m) => R::NotAllowed(m.iter().map(|m| String::from_utf8(m.to_vec()).unwrap()).collect()),
            Outcome::NotFound => R::NotFound,
        }
    }

    fn p(pairs: &[(&str, &str)]) -> Params {
        pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn specificity_beats_registration_order() {
        let r = router(&[
            ("/u/<name>", &["GET"], 1),
            ("/u/<int:id>", &["GET"], 2),
            ("/u/me", &["GET"], 3),
            ("/u/<path:rest>", &["GET"], 4),
            ("/u/v<int:n>", &["GET"], 5),
        ]);
        assert_eq!(find(&r, "GET", "/u/me"), R::Found(3, p(&[])));
        assert_eq!(find(&r, "GET", "/u/12"), R::Found(2, p(&[("id", "12")])));
        assert_eq!(find(&r, "GET", "/u/bob"), R::Found(1, p(&[("name", "bob")])));
        assert_eq!(find(&r, "GET", "/u/v7"), R::Found(5, p(&[("n", "7")])));
        assert_eq!(find(&r, "GET", "/u/a/b"), R::Found(4, p(&[("rest", "a/b")])));
        assert_eq!(find(&r, "GET", "/u/"), R::Found(4, p(&[("rest", "")])));
    }

    #[test]
    fn method_not_allowed_collects_all_candidates_and_head_uses_get() {
        let r = router(&[("/a/<int:x>", &["POST"], 1), ("/a/<y>", &["PUT", "GET"], 2)]);
        assert_eq!(find(&r, "DELETE", "/a/1"), R::NotAllowed(vec!["GET".into(), "POST".into(), "PUT".into()]));
        assert_eq!(find(&r, "HEAD", "/a/1"), R::Found(2, p(&[("y", "1")])));
        assert_eq!(find(&r, "GET", "/b"), R::NotFound);
    }

    #[test]
    fn failed_conversion_is_a_bad_param_and_the_search_goes_on() {
        let r = router(&[("/n/<int:x>", &["GET"], 1), ("/n/<s>", &["POST"], 2)]);
        let huge = "9".repeat(30);
        assert_eq!(find(&r, "GET", &format!("/n/{huge}")), R::Bad("x".into()));
        let r = router(&[("/n/<int:x>", &["GET"], 1), ("/n/<s>", &["GET"], 2)]);
        assert_eq!(find(&r, "GET", &format!("/n/{huge}")), R::Found(2, p(&[("s", &huge)])));
    }

    #[test]
    fn tails_with_more_segments_first_and_backtracking() {
        let r =
            router(&[("/f/<path:p>", &["GET"], 1), ("/f/<path:p>/edit", &["GET"], 2), ("/f/x/<int:i>", &["GET"], 3)]);
        assert_eq!(find(&r, "GET", "/f/a/b/edit"), R::Found(2, p(&[("p", "a/b")])));
        assert_eq!(find(&r, "GET", "/f/x/1"), R::Found(3, p(&[("i", "1")])));
        // Static child `x` leads nowhere for `/f/x/y`: backtrack to the tail.
        assert_eq!(find(&r, "GET", "/f/x/y"), R::Found(1, p(&[("p", "x/y")])));
        // Tails need at least one remaining segment.
        assert_eq!(find(&r, "GET", "/f"), R::NotFound);
    }

    #[test]
    fn first_character_is_dropped_whatever_it_is() {
        let r = router(&[("/bc", &["GET"], 1), ("/", &["GET"], 2)]);
        assert_eq!(find(&r, "GET", "xbc"), R::Found(1, p(&[])));
        assert_eq!(find(&r, "GET", "ébc"), R::Found(1, p(&[])));
        assert_eq!(find(&r, "GET", ""), R::Found(2, p(&[])));
        assert_eq!(find(&r, "GET", "/"), R::Found(2, p(&[])));
    }

    #[test]
    fn conflicts_are_detected_on_normalised_keys() {
        let mut r: Router<T> = Router::new();
        let segs = parse(b"/a/<int:x>").unwrap();
        r.insert(b"/a/<int:x>", &segs, &[b"GET".to_vec()], || T(1, vec![]), |_, _| ()).unwrap();
        let segs = parse(b"/a/<int:y>").unwrap();
        let err = r.insert(
            b"/a/<int:y>",
            &segs,
            &[b"POST".to_vec(), b"GET".to_vec()],
            || T(2, vec![]),
            |m, t| (m.to_vec(), t.0),
        );
        assert_eq!(err, Err((b"GET".to_vec(), 1)));
    }

    #[test]
    fn long_paths_spill_off_the_stack() {
        let deep: String = (0..20).map(|i| format!("/s{i}")).collect();
        let deep_dynamic = format!("{deep}/<int:n>");
        let r = router(&[(&deep, &["GET"], 1), ("/t/<path:p>", &["GET"], 2), (&deep_dynamic, &["GET"], 3)]);
        assert_eq!(find(&r, "GET", &deep), R::Found(1, p(&[])));
        assert_eq!(find(&r, "GET", &format!("{deep}/7")), R::Found(3, p(&[("n", "7")])));
        let long: String = (0..40).map(|i| format!("/x{i}")).collect();
        assert_eq!(find(&r, "GET", &format!("/t{long}")), R::Found(2, p(&[("p", &long[1..])])));
    }

    #[test]
    fn cost_does_not_depend_on_route_count() {
        let mut routes = Vec::new();
        let patterns: Vec<String> = (0..1000).map(|i| format!("/r{i}/<int:id>")).collect();
        for (i, pat) in patterns.iter().enumerate() {
            routes.push((pat.as_str(), &["GET"][..], i as u32));
        }
        let r = router(&routes);
        assert_eq!(find(&r, "GET", "/r999/5"), R::Found(999, p(&[("id", "5")])));
    }
}
