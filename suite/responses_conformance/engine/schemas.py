"""JSON Schema validation of stream events and Response objects (sans-IO).

The schemas live in the repository's top-level `schemas/` folder (installed as
`responses_conformance/schemas` in the wheel): one file per event type in `events/`, shared
objects in `objects/`, all JSON Schema draft 2020-12, tied together by relative `$ref`s. See
`schemas/README.md` for what they encode and where they depart from the published spec.

One rule no JSON Schema keyword can state: `1756892755.0` is not an integer. jsonschema counts
any float with a zero fraction as an "integer", but Go and Rust clients refuse `created_at:
1756892755.0` (real-world H-01). Instances come from `json.loads`, which keeps `1.0` a Python
float, so our validator's type checker accepts only Python ints (never bools) as "integer";
"number" still takes both, so `temperature: 1.0` and `temperature: 1` are fine.

    schemas = SchemaSet.load()
    schemas.validate_event({"type": "response.created", ...})   # [] when valid
    schemas.validate("objects/error_envelope", body)

Profiles. `SchemaSet.load(profile="openai-strict")` (or "openresponses") layers the profile's
overlay folder `schemas/profiles/<overlay>/` over the base: an overlay file replaces the base file
of the same relative name (and keeps its `$id`, so every `$ref` resolves across base and
overlay), a file only the overlay has is added, every other file comes from the base. `None` and
"openai" are the base tier itself. A schema path names the file that holds the rule, so an
overlay rule reads `profiles/openresponses/objects/response.json#/required`.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from itertools import chain
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry
from referencing.jsonschema import DRAFT202012

__all__ = ["BASE_URI", "MAX_ERRORS", "SchemaError", "SchemaSet", "default_root"]

BASE_URI = "https://responses-conformance.invalid/schemas/"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
KINDS = ("events", "objects")
PROFILES_FOLDER = "profiles"  # schemas/profiles/<overlay>/{events,objects}/*.json
MAX_ERRORS = 5  # per instance: the first few say what is wrong, the rest is noise


def _is_integer(checker: Any, instance: Any) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


_Validator = validators.extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
)


@dataclass(frozen=True)
class SchemaError:
    """One schema violation: what is wrong, where in the instance, which rule says so."""

    message: str  # "'created_at' 1756892755.0 is not of type 'integer'"
    path: str  # "$.response.created_at"
    schema_path: str  # "objects/response.json#/properties/created_at/type"


def default_root() -> Path:
    """The installed `responses_conformance/schemas`, else the checkout's top-level `schemas/`."""
    try:
        packaged = resources.files("responses_conformance") / "schemas"
        if packaged.is_dir():
            return Path(str(packaged))
    except (ModuleNotFoundError, TypeError, ValueError):  # not installed, or a namespace package
        pass
    return Path(__file__).resolve().parents[3] / "schemas"


_cache: dict[tuple[Path | None, str | None], SchemaSet] = {}  # (root, overlay) -> loaded set


def _overlay_of(profile: Any) -> str | None:
    """The overlay folder of a profile name (or Profile); None for the base tier."""
    if profile is None or profile == "openai":
        return None
    from . import profiles  # late: profiles pulls in the check registry, which the base needs not

    return profiles.get(profile).schema_overlay  # ValueError for an unknown name


class SchemaSet:
    """All schema files of one folder (plus a profile's overlay), each compiled once into a validator."""

    def __init__(
        self,
        documents: dict[str, dict[str, Any]],
        root: Path,
        *,
        overlay: str | None = None,
        origins: dict[str, str] | None = None,
    ) -> None:
        self.root = root
        self.overlay = overlay  # the profile's overlay folder name, None for the base tier
        self._documents = documents  # "events/error" -> schema
        self._uris = {name: doc["$id"] for name, doc in documents.items()}
        self._by_uri = {uri: documents[name] for name, uri in self._uris.items()}
        # where each document was read from, relative to root: "objects/response.json", or
        # "profiles/openresponses/objects/response.json" for an overlay file
        origins = origins or {}
        self._origins = {
            uri: origins.get(name, uri.removeprefix(BASE_URI)) for name, uri in self._uris.items()
        }
        # jsonschema picks the validator class of a (sub)schema from its `$schema`, which would
        # bring back the stock "integer" rule below every `$ref`; so validate against copies
        # without `$schema` (every file is checked to be 2020-12 on load).
        bare = {name: _without_dialect(name, doc) for name, doc in documents.items()}
        registry: Registry = Registry().with_resources(
            (self._uris[name], DRAFT202012.create_resource(doc)) for name, doc in bare.items()
        )
        self._validators = {name: _Validator(doc, registry=registry) for name, doc in bare.items()}
        compiler = _Compiler(self._by_uri)
        self._fast = compiler.compile({name: self._uris[name] for name in documents})
        self._fast_source = compiler.source  # the generated fast path, for reading and debugging
        self._event_names: dict[str, str] = {}  # "response.created" -> "events/response.created"
        for name, doc in documents.items():
            if name.startswith("events/"):
                self._event_names[doc["properties"]["type"]["const"]] = name
        self._event_types = frozenset(self._event_names)
        # validate_event's shortcut, one look-up per event: type -> (schema name, fast function)
        self._event_checks = {kind: (name, self._fast[name]) for kind, name in self._event_names.items()}

    @classmethod
    def load(cls, root: Path | None = None, *, profile: str | None = None) -> SchemaSet:
        """Load every `events/*.json` and `objects/*.json` under root (default: ours), with the
        profile's overlay from `root/profiles/<overlay>/` layered on top.

        `profile` None or "openai" is the base tier; "openai-strict" and "openresponses" add their
        overlays; an unknown profile is a ValueError. One instance per (root, profile), cached.
        """
        overlay = _overlay_of(profile)
        key = (None if root is None else Path(root).resolve(), overlay)
        found = _cache.get(key)
        if found is None:
            found = _cache[key] = cls._read(default_root() if root is None else Path(root), overlay)
        return found

    @classmethod
    def _read(cls, root: Path, overlay: str | None = None) -> SchemaSet:
        documents: dict[str, dict[str, Any]] = {}
        origins: dict[str, str] = {}
        for kind in KINDS:
            folder = root / kind
            if not folder.is_dir():
                raise FileNotFoundError(f"no schema folder {folder}")
            documents.update(_read_folder(folder, kind))
        if overlay is not None:
            base = root / PROFILES_FOLDER / overlay
            if not base.is_dir():
                raise FileNotFoundError(f"no schema overlay folder {base}")
            for kind in KINDS:
                for name, doc in _read_folder(base / kind, kind).items():  # a kind folder may be absent
                    replaced = documents.get(name)
                    if replaced is not None and replaced["$id"] != doc["$id"]:
                        raise ValueError(f"{overlay}/{name}.json: $id {doc['$id']!r} is not the $id of the "
                                         f"file it replaces, {replaced['$id']!r}")
                    documents[name] = doc
                    origins[name] = f"{PROFILES_FOLDER}/{overlay}/{name}.json"
        return cls(documents, root, overlay=overlay, origins=origins)

    @property
    def event_types(self) -> frozenset[str]:
        """The event `type`s that have a schema."""
        return self._event_types

    @property
    def names(self) -> frozenset[str]:
        """Every schema name, like "events/error" or "objects/response"."""
        return frozenset(self._documents)

    def validate_event(self, payload: dict, kind: str | None = None) -> list[SchemaError] | None:
        """Errors of one event payload; None when its `type` has no schema (unknown type).
        `kind`: the payload's `type`, when the caller has read it already (a string)."""
        if kind is None:
            kind = payload.get("type") if isinstance(payload, dict) else None
        found = self._event_checks.get(kind) if isinstance(kind, str) else None
        if found is None:
            return None
        name, fast = found
        if fast is not None and fast(payload):  # the common case, inline: called for every event
            return []
        return self._errors(name, payload)

    def validate(self, name: str, instance: Any) -> list[SchemaError]:
        """Errors of an instance against one schema, e.g. "objects/response" or "events/error"."""
        name = _normalise(name)
        if name not in self._validators:
            raise KeyError(f"no schema named {name!r}")
        return self._check(name, instance)

    # -- internals --------------------------------------------------------------------------

    def _check(self, name: str, instance: Any) -> list[SchemaError]:
        fast = self._fast[name]
        if fast is not None and fast(instance):  # the common case: valid, seen in microseconds
            return []
        return self._errors(name, instance)

    def _errors(self, name: str, instance: Any) -> list[SchemaError]:
        """jsonschema's errors, the most relevant first: the slow path, for invalid instances."""
        errors = self._validators[name].iter_errors(instance)
        first = next(errors, None)
        if first is None:
            return []
        kept: dict[tuple[str, str], tuple[int, int, int, SchemaError]] = {}
        for order, (error, message) in enumerate(_leaves(chain([first], errors))):
            found = SchemaError(
                message=message or _message(error),
                path=_json_path(error.absolute_path),
                schema_path=self._locate(name, error.absolute_schema_path),
            )
            key = (found.path, found.message)
            specific = len(error.absolute_schema_path)
            # one defect seen by two rules (a generic item rule and the message schema, say):
            # keep the more specific, deeper rule
            if key not in kept or specific > kept[key][2]:
                kept[key] = (len(error.absolute_path), order, specific, found)
        # best_match's order: shallower first (an event's own fields before what it nests),
        # then the schema's own keyword order; anyOf/oneOf were already resolved to the
        # deepest errors of the branch that was meant
        return [found for *_, found in sorted(kept.values(), key=lambda k: k[:2])[:MAX_ERRORS]]

    def _locate(self, name: str, schema_path: Iterable[Any]) -> str:
        """'objects/response.json#/properties/created_at/type' for a validator schema path.

        jsonschema leaves `$ref` out of schema paths, so walk the documents and step through a
        `$ref` whenever the next segment is not a key of the current node. Our schemas keep a
        `$ref` alone in its object (tests enforce it), which makes this exact.
        """
        uri = self._uris[name]
        node: Any = self._documents[name]
        pointer: list[str] = []
        for segment in schema_path:
            while isinstance(node, dict) and "$ref" in node and segment not in node:
                target, fragment = urldefrag(urljoin(uri, node["$ref"]))
                if target not in self._by_uri:
                    break
                uri, node, pointer = target, self._by_uri[target], []
                for part in (p for p in fragment.split("/") if p):
                    part = part.replace("~1", "/").replace("~0", "~")
                    node = node[int(part)] if isinstance(node, list) else node[part]
                    pointer.append(part)
            try:
                node = node[segment]
            except (KeyError, IndexError, TypeError):
                node = None
            pointer.append(str(segment))
        where = self._origins.get(uri, uri.removeprefix(BASE_URI))
        escaped = (p.replace("~", "~0").replace("/", "~1") for p in pointer)
        return f"{where}#/" + "/".join(escaped)


def _read_folder(folder: Path, kind: str) -> dict[str, dict[str, Any]]:
    """Every *.json in folder by name ("events/error"), none if the folder does not exist.

    A file without `$id` gets the base scheme's: an overlay file thus stands in for the base file
    of the same relative name, and `$ref`s resolve the same way under every profile.
    """
    documents: dict[str, dict[str, Any]] = {}
    if not folder.is_dir():
        return documents
    for path in sorted(folder.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        doc.setdefault("$id", f"{BASE_URI}{kind}/{path.name}")
        documents[f"{kind}/{path.name.removesuffix('.json')}"] = doc
    return documents


def _without_dialect(name: str, doc: dict[str, Any]) -> dict[str, Any]:
    dialect = doc.get("$schema", DIALECT)
    if dialect != DIALECT:
        raise ValueError(f"{name}: $schema is {dialect!r}, expected {DIALECT!r}")
    return {k: v for k, v in doc.items() if k != "$schema"}


def _normalise(name: str) -> str:
    return name.removesuffix(".json")


def _leaves(errors: Iterable[ValidationError]) -> Iterator[tuple[ValidationError, str | None]]:
    """Replace each anyOf/oneOf error by the errors of the branch the instance was meant for.

    A branch whose own `type` does not fit the instance (the `null` side of a nullable object,
    say) is not the one meant; when exactly one branch is left, its errors are the real ones.
    When every branch fails on type, say so in one message.
    """
    for error in errors:
        if error.validator not in ("anyOf", "oneOf") or not error.context:
            yield error, None
            continue
        depth = len(error.absolute_path)
        branches: dict[Any, list[ValidationError]] = {}
        for sub in error.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        meant = [
            subs
            for subs in branches.values()
            if not any(s.validator == "type" and len(s.absolute_path) == depth for s in subs)
        ]
        if len(meant) == 1:
            yield from _leaves(meant[0])
        elif not meant:
            types: list[str] = []
            for subs in branches.values():
                for s in subs:
                    if s.validator == "type" and len(s.absolute_path) == depth:
                        wanted = s.validator_value
                        types.extend([wanted] if isinstance(wanted, str) else wanted)
            yield error, _subject(error) + f"{_render(error.instance)} is not of type " + " or ".join(
                f"'{t}'" for t in dict.fromkeys(types)
            )
        else:
            yield best_match(error.context), None


def _subject(error: ValidationError) -> str:
    last = error.absolute_path[-1] if error.absolute_path else None
    return f"'{last}' " if isinstance(last, str) else ""


def _render(value: Any, limit: int = 60) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _message(error: ValidationError) -> str:
    """jsonschema's message, with JSON values and the offending property named."""
    kind, wanted, instance = error.validator, error.validator_value, error.instance
    subject = _subject(error)
    if kind == "type":
        types = [wanted] if isinstance(wanted, str) else list(wanted)
        return f"{subject}{_render(instance)} is not of type " + " or ".join(f"'{t}'" for t in types)
    if kind == "const":
        return f"{subject}{_render(instance)} is not {_render(wanted)}"
    if kind == "enum":
        return f"{subject}{_render(instance)} is not one of {_render(wanted, 120)}"
    if kind in ("minimum", "maximum"):
        return f"{subject}{_render(instance)} is {'less' if kind == 'minimum' else 'greater'} than the {kind} of {wanted}"
    message = error.message
    return message if len(message) <= 200 else message[:199] + "…"


def _json_path(path: Iterable[Any]) -> str:
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.isidentifier():
            out += f".{part}"
        else:
            out += "[" + json.dumps(part) + "]"
    return out


# -- the fast path -----------------------------------------------------------------------------
#
# jsonschema spends most of its time building a validator object per subschema it descends
# into (~40 microseconds for a small delta event). A replay checks millions of events, almost
# all valid, so each schema is also compiled into a plain Python function covering the handful
# of keywords our schemas use. It only answers "valid?"; anything else, and every error message,
# comes from jsonschema. A schema using a keyword the compiler does not know gets no function
# (None) and always goes to jsonschema. tests/test_schemas.py checks that both agree on every
# fixture event and on mutated copies of them.
#
# The functions are generated as Python source and compiled once per SchemaSet, as
# fastjsonschema does (without the dependency): every keyword becomes a straight-line `if`, so a
# delta event costs one call and a few isinstance tests. (An interpreter of the schema, a
# closure per keyword looping over every declared property, cost ~4 us per event: a quarter of
# a replay.) `_Compiler.source` is the generated module, readable as it is:
#
#     def _s1(x):  # https://responses-conformance.invalid/schemas/events/response.output_text.delta.json
#         if not isinstance(x, dict): return False
#         if not x.keys() >= _c1: return False
#         if 'type' in x:
#             v1 = x['type']
#             if not v1 == 'response.output_text.delta': return False
#         ...
#         return True

Check = Callable[[Any], bool]

_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$defs", "$comment", "title", "description", "default", "examples", "deprecated"}
)
# The test of each JSON type, as an expression of the variable {x}. "integer" and "number" are
# Python ints (and floats) but never bools: `1.0` is not an integer (see the module docstring).
_TYPE_TESTS = {
    "object": "isinstance({x}, dict)",
    "array": "isinstance({x}, list)",
    "string": "isinstance({x}, str)",
    "integer": "(isinstance({x}, int) and not isinstance({x}, bool))",
    "number": "(isinstance({x}, (int, float)) and not isinstance({x}, bool))",
    "boolean": "isinstance({x}, bool)",
    "null": "{x} is None",
}
# The same tests on the exact type, where a value that fails one only goes on to jsonschema
# (a `type` keyword: `if not (...): return False`). What json.loads makes is of these exact
# types, and `type(x) is int` is one test where `isinstance` takes two (a bool is an int).
# A subclass of dict or str, say, fails them and is judged by jsonschema: slower, not
# otherwise. Guards (`if isinstance(x, dict):` before its properties) keep isinstance, so that
# nothing is left unchecked.
_EXACT_TYPE_TESTS = {
    "object": "type({x}) is dict",
    "array": "type({x}) is list",
    "string": "type({x}) is str",
    "integer": "type({x}) is int",
    "number": "(type({x}) is float or type({x}) is int)",
    "boolean": "type({x}) is bool",
    "null": "{x} is None",
}
_NUMERIC = frozenset({"integer", "number"})
# Nesting deeper than this goes into a function of its own, to keep the generated code readable.
_MAX_INLINE_DEPTH = 6


class _Unsupported(Exception):
    pass


def _type_const(schema: Any) -> str | None:
    """C when schema is `{"required": ["type"], "properties": {"type": {"const": C}}}` with C a
    string: on an object, it holds exactly when the object's `type` is C."""
    if not isinstance(schema, dict) or set(schema) - _ANNOTATIONS != {"required", "properties"}:
        return None
    if schema["required"] != ["type"] or not isinstance(schema["properties"], dict):
        return None
    test = schema["properties"]
    if set(test) != {"type"} or not isinstance(test["type"], dict) or set(test["type"]) - _ANNOTATIONS != {"const"}:
        return None
    const = test["type"]["const"]
    return const if isinstance(const, str) else None


def _scalar_equal(value: Any, wanted: Any) -> bool:
    # JSON equality for scalars: true is not 1, 1 is 1.0 (jsonschema's rule)
    if isinstance(value, bool) or isinstance(wanted, bool):
        return type(value) is type(wanted) and value == wanted
    if isinstance(value, (dict, list)):
        return False
    return value == wanted


class _Compiler:
    """Generates one Python module holding a function per schema (and per `$ref` target)."""

    def __init__(self, documents: dict[str, dict[str, Any]]) -> None:
        self._documents = documents
        self._names: dict[str, str] = {}  # $ref target -> its function (finished or being generated)
        self._failed: set[str] = set()  # $ref targets that use a keyword we do not compile
        self._sources: dict[str, str] = {}  # function name -> its source
        self._finished: list[tuple[str, str | None]] = []  # (function, its $ref target), in order
        self._globals: dict[str, Any] = {"_scalar_equal": _scalar_equal}  # constants of the module
        self._counter = 0
        self.source = ""

    def compile(self, uris: dict[str, str]) -> dict[str, Check | None]:
        """A function per schema name (name -> document URI); None for what cannot be compiled."""
        names: dict[str, str | None] = {}
        for name, uri in uris.items():
            try:
                names[name] = self._ref(uri, "")
            except _Unsupported:
                names[name] = None
        self.source = "\n\n".join(self._sources.values()) + "\n"
        namespace = dict(self._globals)
        for source in self._sources.values():  # one at a time: compiling it all at once peaks at ~5 MiB
            exec(compile(source, "<compiled schemas>", "exec"), namespace)  # our own generated code
        return {name: None if function is None else namespace[function] for name, function in names.items()}

    # -- functions -----------------------------------------------------------------------------
    def _new(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}{self._counter}"

    def _constant(self, value: Any) -> str:
        name = self._new("_c")
        self._globals[name] = value
        return name

    def _ref(self, base: str, ref: str) -> str:
        """The function of a `$ref` target, generated on first use."""
        target = urljoin(base, ref)
        if target in self._failed:
            raise _Unsupported(target)
        name = self._names.get(target)
        if name is not None:
            return name  # finished, or being generated: a schema may refer to itself
        document_uri, fragment = urldefrag(target)
        if document_uri not in self._documents:
            raise _Unsupported(target)
        node: Any = self._documents[document_uri]
        for part in (p for p in fragment.split("/") if p):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        name = self._names[target] = self._new("_s")
        try:
            self._function(name, node, document_uri, target)
        except _Unsupported:
            del self._names[target]
            self._failed.add(target)
            raise
        return name

    def _function(self, name: str, schema: Any, base: str, target: str | None) -> None:
        started = len(self._finished)
        # A required key is read without testing it first (`v = x['id']`): a missing one raises
        # KeyError, which means "not valid" (jsonschema then says why). Only required keys
        # that nothing reads get a test of their own (_body).
        lines = [f"def {name}(x):" + (f"  # {target}" if target else ""), "    try:"]
        try:
            self._body(schema, "x", base, lines, 2)
        except _Unsupported:
            # What was generated meanwhile may call this function: drop it too (generated again,
            # and failing again, should another schema need it).
            for function, ref_target in self._finished[started:]:
                del self._sources[function]
                if ref_target is not None:
                    self._names.pop(ref_target, None)
            del self._finished[started:]
            raise
        lines.append("    except KeyError:")
        lines.append("        return False")
        lines.append("    return True")
        self._sources[name] = "\n".join(lines)
        self._finished.append((name, target))

    def _call(self, schema: Any, x: str, base: str) -> str:
        """An expression that is true when the value {x} satisfies schema."""
        if schema is True or schema is False:
            return str(schema)
        if isinstance(schema, dict):
            keys = [k for k in schema if k not in _ANNOTATIONS and k not in ("then", "else")]
            if not keys:
                return "True"
            if keys == ["$ref"]:
                return f"{self._ref(base, schema['$ref'])}({x})"
            if keys == ["type"] and isinstance(schema["type"], str):
                return self._type_test([schema["type"]], x)
        name = self._new("_s")
        self._function(name, schema, base, None)
        return f"{name}({x})"

    # -- statements ----------------------------------------------------------------------------
    def _type_test(self, names: list[str], x: str, *, exact: bool = False) -> str:
        if not names:
            return "False"
        tests = _EXACT_TYPE_TESTS if exact else _TYPE_TESTS
        return " or ".join(tests[n].format(x=x) for n in names)

    def _body(self, schema: Any, x: str, base: str, out: list[str], depth: int) -> None:
        """Statements that `return False` when the value in variable x does not satisfy schema."""
        pad = "    " * depth
        if schema is True:
            return
        if schema is False:
            out.append(f"{pad}return False")
            return
        if not isinstance(schema, dict):
            raise _Unsupported(schema)
        known: str | None = None  # x's JSON type once a one-type `type` keyword has checked it
        present: frozenset[str] = frozenset()  # keys a dict x must have (`required`), read without a test
        read: set[str] = set()  # ... those that `properties` reads (a missing one raises KeyError)
        required_at: list[tuple[int, str]] = []  # where each `required` test goes, and its guard
        for key, value in schema.items():
            if key in _ANNOTATIONS or key in ("then", "else"):
                continue
            if key == "type":
                names = [value] if isinstance(value, str) else list(value)
                out.append(f"{pad}if not ({self._type_test(names, x, exact=True)}): return False")
                known = names[0] if len(names) == 1 else None
            elif key == "const":
                if isinstance(value, (dict, list)):
                    raise _Unsupported(key)
                if isinstance(value, str):  # for strings, == is JSON equality (1 == "1" is false)
                    out.append(f"{pad}if not {x} == {value!r}: return False")
                else:
                    out.append(f"{pad}if not _scalar_equal({x}, {self._constant(value)}): return False")
            elif key == "enum":
                if any(isinstance(v, (dict, list)) for v in value):
                    raise _Unsupported(key)
                if all(isinstance(v, str) for v in value):
                    options = self._constant(frozenset(value))
                    out.append(f"{pad}if not (isinstance({x}, str) and {x} in {options}): return False")
                else:
                    options = self._constant(tuple(value))
                    out.append(f"{pad}if not any(_scalar_equal({x}, v) for v in {options}): return False")
            elif key == "required":
                if value:
                    required_at.append((len(out), "" if known == "object" else f"isinstance({x}, dict) and "))
                    present = present | frozenset(value)
            elif key == "properties":
                read |= self._properties(value, x, base, out, depth, known == "object", present)
            elif key == "items":
                inner = pad
                if known != "array":
                    out.append(f"{pad}if isinstance({x}, list):")
                    inner += "    "
                item = self._new("v")
                before = len(out)
                out.append(f"{inner}for {item} in {x}:")
                self._nested(value, item, base, out, depth + (1 if known == "array" else 2))
                if len(out) == before + 1:  # nothing to check on the items
                    del out[before - (0 if known == "array" else 1):]
            elif key == "minimum":
                guard = "" if known in _NUMERIC else f"{self._type_test(['number'], x)} and "
                bound = repr(value) if type(value) in (int, float) else self._constant(value)
                out.append(f"{pad}if {guard}not {x} >= {bound}: return False")
            elif key == "$ref":
                out.append(f"{pad}if not {self._ref(base, value)}({x}): return False")
            elif key == "allOf":
                subs = list(value)
                if known == "object":
                    subs = self._dispatch(subs, x, base, out, depth)
                for sub in subs:
                    self._body(sub, x, base, out, depth)
            elif key == "anyOf":
                alternatives = " or ".join(f"({self._call(sub, x, base)})" for sub in value) or "False"
                out.append(f"{pad}if not ({alternatives}): return False")
            elif key == "if":
                test = self._call(value, x, base)
                then = self._call(schema.get("then", True), x, base)
                otherwise = self._call(schema.get("else", True), x, base)
                out.append(f"{pad}if not (({then}) if ({test}) else ({otherwise})): return False")
            else:
                raise _Unsupported(key)
        unread = present - read
        for position, guard in reversed(required_at):  # the test of the required keys nothing reads
            if unread:
                out.insert(position, f"{pad}if {guard}not {x}.keys() >= {self._constant(frozenset(unread))}: "
                                     "return False")
                unread = frozenset()  # once is enough

    def _dispatch(self, subs: list[Any], x: str, base: str, out: list[str], depth: int) -> list[Any]:
        """The `if: {type: const}` / `then` pairs of an allOf over an object (a discriminated union:
        output items, content parts) as one if/elif on the object's `type`, instead of a call per
        variant; the other subschemas are returned, for _body."""
        pairs: list[tuple[str, Any]] = []
        rest = []
        for sub in subs:
            test = sub.get("if") if isinstance(sub, dict) else None
            kind = _type_const(test)
            if kind is not None and set(sub) - _ANNOTATIONS == {"if", "then"} and kind not in dict(pairs):
                pairs.append((kind, sub["then"]))
            else:
                rest.append(sub)
        if len(pairs) < 2:
            return subs
        pad = "    " * depth
        kind = self._new("v")
        out.append(f"{pad}{kind} = {x}.get('type')")
        for number, (const, then) in enumerate(pairs):
            out.append(f"{pad}{'if' if not number else 'elif'} {kind} == {const!r}:")
            out.append(f"{pad}    if not ({self._call(then, x, base)}): return False")
        return rest

    def _properties(self, properties: dict[str, Any], x: str, base: str, out: list[str], depth: int,
                    is_object: bool, present: frozenset[str]) -> set[str]:
        """`present`: keys x must have (`required`, when x is a dict): read without an `in` test.
        The keys of `present` read are returned."""
        pad = "    " * depth
        inner = depth
        start = len(out)
        if not is_object:
            out.append(f"{pad}if isinstance({x}, dict):")
            inner += 1
        checked = False
        read: set[str] = set()
        for name, sub in properties.items():
            value = self._new("v")
            before = len(out)
            if name in present:
                out.append(f"{'    ' * inner}{value} = {x}[{name!r}]")
                self._nested(sub, value, base, out, inner)
            else:
                out.append(f"{'    ' * inner}if {name!r} in {x}:")
                out.append(f"{'    ' * (inner + 1)}{value} = {x}[{name!r}]")
                self._nested(sub, value, base, out, inner + 1)
            if len(out) == before + (1 if name in present else 2):
                del out[before:]  # nothing to check on this property (annotations only)
            else:
                checked = True
                if name in present:
                    read.add(name)
        if not checked:
            del out[start:]
        return read

    def _nested(self, schema: Any, x: str, base: str, out: list[str], depth: int) -> None:
        if depth > _MAX_INLINE_DEPTH:
            call = self._call(schema, x, base)
            if call != "True":
                out.append(f"{'    ' * depth}if not {call}: return False")
            return
        self._body(schema, x, base, out, depth)
