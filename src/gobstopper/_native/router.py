"""The Python router: the executable specification of route matching (docs/design.md §4).

The Rust router in ``gobstopper_rs`` implements exactly these semantics; a property test compares the two.

Patterns use Flask syntax (``/users/<int:id>``, ``/files/<path:rest>``, ``/api/v<version>``). A pattern is split on
``/`` into segments. Each segment is one of

* **static** text (``users``; the empty string for a trailing slash),
* **dynamic**: one or more placeholders, maybe mixed with literal text (``<int:id>``, ``v<version>``), matched
  against exactly one path segment with a full regex match,
* a **tail**: the first segment holding a ``path`` placeholder, together with everything after it, matched with
  one full regex against the rest of the path (slashes included).

Matching is a depth-first search over a segment trie. At each node the search tries, in this order:

1. the static child equal to the segment;
2. the dynamic children, by rank and then by registration order, where the rank is
   1 = literal text + typed convertors only, 2 = literal text + any ``str``, 3 = typed convertors only,
   4 = any ``str`` (typed means every convertor but ``str``);
3. the tails at this node, those with more segments first, then by registration order (only when at least
   one segment remains; ``<path:p>/edit`` is tried before ``<path:p>``).

Every full match of the path is a *candidate*, in that order. The first candidate that has a route for the
request method (``HEAD`` falls back to that candidate's ``GET``) and whose captured values all convert wins.
A value that matches a convertor's regex but fails its conversion (``2024-02-30`` for ``date``) makes that
candidate a *bad parameter* and the search goes on. The outcome is then, in this order of preference:
found; bad parameter (400); method not allowed (405, with the union of the candidates' methods); not found.

Registering the same method for the same pattern twice (same segments and convertors, whatever the parameter
names) raises :class:`RouteConflict`. Paths are matched as given: servers have already percent-decoded them and
nothing here decodes again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from starlette.convertors import Convertor

from .pattern import ParsedSegment, get_convertor, parse_pattern

FOUND = 0
BAD_PARAM = 1
METHOD_NOT_ALLOWED = 2
NOT_FOUND = 3

T = TypeVar("T")

class RouteConflict(ValueError):
    """Two routes claim the same method for the same pattern."""


def target_for(targets: Mapping[str, T], method: str) -> T | None:
    """The target registered for ``method``; ``HEAD`` falls back to ``GET`` (RFC 9110 §9.3.2). The one HEAD rule:
    the router applies it to each candidate, dispatch to its exact-path table."""
    target = targets.get(method)
    if target is None and method == "HEAD":
        target = targets.get("GET")
    return target


def allowed_methods(methods: Iterable[str]) -> set[str]:
    """The ``Allow`` set for a path whose routes take ``methods``: plus ``HEAD`` where ``GET`` is (the HEAD rule
    above) and ``OPTIONS``, which is always answered."""
    allowed = set(methods) | {"OPTIONS"}
    if "GET" in allowed:
        allowed.add("HEAD")
    return allowed


@dataclass
class _Target:
    endpoint: Any
    names: tuple[str, ...]


@dataclass
class _Dynamic:
    key: str
    rank: int
    order: int
    regex: re.Pattern[str]
    convertors: tuple[Convertor, ...]
    node: _Node


@dataclass
class _Tail:
    key: str
    segment_count: int
    order: int
    regex: re.Pattern[str]
    convertors: tuple[Convertor, ...]
    targets: dict[str, _Target] = field(default_factory=dict)


@dataclass
class _Node:
    static: dict[str, _Node] = field(default_factory=dict)
    dynamic: list[_Dynamic] = field(default_factory=list)
    tails: list[_Tail] = field(default_factory=list)
    targets: dict[str, _Target] = field(default_factory=dict)


@dataclass
class _Search:
    """What a search saw besides the winner: the candidates' methods and the first bad parameter."""

    method: str
    allowed: set[str] = field(default_factory=set)
    bad_param: tuple[str, str] | None = None


class Router:
    """Maps ``(method, path)`` to an endpoint and converted parameters.

    ``match`` returns one of ``(FOUND, endpoint, params)``, ``(BAD_PARAM, name, message)``,
    ``(METHOD_NOT_ALLOWED, allowed_methods, None)`` or ``(NOT_FOUND, None, None)``.
    """

    def __init__(self) -> None:
        self._root = _Node()
        self._order = 0

    def add(self, pattern: str, methods: Iterable[str], endpoint: Any) -> None:
        """Register ``endpoint`` for ``methods`` on ``pattern``.

        Raises:
            ValueError: the pattern is malformed.
            RouteConflict: one of the methods is already registered for an equivalent pattern.
        """
        segments = parse_pattern(pattern)
        names = tuple(n for seg in segments for n in seg.param_names)
        node = self._root
        targets: dict[str, _Target] | None = None
        for index, seg in enumerate(segments):
            if seg.is_static:
                node = node.static.setdefault(seg.literals[0], _Node())
                continue
            if "path" in seg.convertor_names:
                targets = self._tail(node, segments[index:]).targets
                break
            node = self._dynamic(node, seg)
        if targets is None:
            targets = node.targets
        methods = [m.upper() for m in methods]
        for method in methods:
            if method in targets:
                existing = targets[method].endpoint
                raise RouteConflict(
                    f"{method} {pattern} conflicts with an equivalent route already registered for {method}"
                    f" ({getattr(existing, 'pattern', existing)!s})"
                )
        for method in methods:
            targets[method] = _Target(endpoint, names)

    def _next_order(self) -> int:
        self._order += 1
        return self._order

    def _dynamic(self, node: _Node, seg: ParsedSegment) -> _Node:
        key = seg.key
        for child in node.dynamic:
            if child.key == key:
                return child.node
        child = _Dynamic(
            key=key,
            rank=seg.rank,
            order=self._next_order(),
            regex=re.compile(seg.regex_source(0)),
            convertors=tuple(get_convertor(c) for c in seg.convertor_names),
            node=_Node(),
        )
        node.dynamic.append(child)
        node.dynamic.sort(key=lambda d: (d.rank, d.order))
        return child.node

    def _tail(self, node: _Node, segments: list[ParsedSegment]) -> _Tail:
        key = "/".join(seg.key for seg in segments)
        for tail in node.tails:
            if tail.key == key:
                return tail
        sources, group = [], 0
        for seg in segments:
            sources.append(seg.regex_source(group))
            group += len(seg.convertor_names)
        tail = _Tail(
            key=key,
            segment_count=len(segments),
            order=self._next_order(),
            regex=re.compile("/".join(sources)),
            convertors=tuple(get_convertor(c) for seg in segments for c in seg.convertor_names),
        )
        node.tails.append(tail)
        node.tails.sort(key=lambda t: (-t.segment_count, t.order))
        return tail

    def match(self, method: str, path: str) -> tuple[int, Any, Any]:
        """Find the route for ``method`` and ``path`` (see the module docstring for the exact semantics)."""
        search = _Search(method)
        found = self._search(self._root, path[1:].split("/"), 0, [], [], search)
        if found is not None:
            return FOUND, found[0], found[1]
        if search.bad_param is not None:
            return BAD_PARAM, search.bad_param[0], search.bad_param[1]
        if search.allowed:
            return METHOD_NOT_ALLOWED, frozenset(search.allowed), None
        return NOT_FOUND, None, None

    def _search(
        self,
        node: _Node,
        segs: list[str],
        i: int,
        values: list[str],
        convs: list[Convertor],
        search: _Search,
    ) -> tuple[Any, dict[str, Any]] | None:
        if i == len(segs):
            return self._candidate(node.targets, values, convs, search) if node.targets else None
        seg = segs[i]
        child = node.static.get(seg)
        if child is not None:
            found = self._search(child, segs, i + 1, values, convs, search)
            if found is not None:
                return found
        for dyn in node.dynamic:
            m = dyn.regex.fullmatch(seg)
            if m is None:
                continue
            n = len(values)
            if len(dyn.convertors) == 1:
                values.append(m.group("p0"))
            else:
                values.extend(_ordered_groups(m, len(dyn.convertors)))
            convs.extend(dyn.convertors)
            found = self._search(dyn.node, segs, i + 1, values, convs, search)
            if found is not None:
                return found
            del values[n:], convs[n:]
        if node.tails:
            rest = "/".join(segs[i:])
            for tail in node.tails:
                m = tail.regex.fullmatch(rest)
                if m is None:
                    continue
                found = self._candidate(
                    tail.targets,
                    values + _ordered_groups(m, len(tail.convertors)),
                    convs + list(tail.convertors),
                    search,
                )
                if found is not None:
                    return found
        return None

    @staticmethod
    def _candidate(
        targets: dict[str, _Target], values: list[str], convs: list[Convertor], search: _Search
    ) -> tuple[Any, dict[str, Any]] | None:
        target = target_for(targets, search.method)
        if target is None:
            search.allowed.update(targets)
            return None
        params = {}
        for name, value, conv in zip(target.names, values, convs):
            try:
                params[name] = conv.convert(value)
            except (ValueError, OverflowError) as exc:
                if search.bad_param is None:
                    search.bad_param = (name, f"Invalid value for path parameter {name!r}: {exc}")
                return None
        return target.endpoint, params


def _ordered_groups(m: re.Match[str], count: int) -> list[str]:
    # Convertor regexes may contain their own groups (float's fraction), so read the named ones.
    return [m.group(f"p{i}") for i in range(count)]
