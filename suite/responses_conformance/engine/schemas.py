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
        self._fast = {name: compiler.compile_document(self._uris[name]) for name in documents}
        self._event_names: dict[str, str] = {}  # "response.created" -> "events/response.created"
        for name, doc in documents.items():
            if name.startswith("events/"):
                self._event_names[doc["properties"]["type"]["const"]] = name
        self._event_types = frozenset(self._event_names)

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

    def validate_event(self, payload: dict) -> list[SchemaError] | None:
        """Errors of one event payload; None when its `type` has no schema (unknown type)."""
        kind = payload.get("type") if isinstance(payload, dict) else None
        name = self._event_names.get(kind) if isinstance(kind, str) else None
        if name is None:
            return None
        return self._check(name, payload)

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
# all valid, so each schema is also compiled into plain Python predicates covering the handful
# of keywords our schemas use. A predicate only answers "valid?"; anything else, and every
# error message, comes from jsonschema. A schema using a keyword the compiler does not know
# gets no predicate (None) and always goes to jsonschema. tests/test_schemas.py checks that both
# agree on every fixture event and on mutated copies of them.

Check = Callable[[Any], bool]

_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$defs", "$comment", "title", "description", "default", "examples", "deprecated"}
)
_TYPES: dict[str, Check] = {
    "object": lambda x: isinstance(x, dict),
    "array": lambda x: isinstance(x, list),
    "string": lambda x: isinstance(x, str),
    "integer": lambda x: isinstance(x, int) and not isinstance(x, bool),
    "number": lambda x: isinstance(x, (int, float)) and not isinstance(x, bool),
    "boolean": lambda x: isinstance(x, bool),
    "null": lambda x: x is None,
}


class _Unsupported(Exception):
    pass


def _scalar_equal(value: Any, wanted: Any) -> bool:
    # JSON equality for scalars: true is not 1, 1 is 1.0 (jsonschema's rule)
    if isinstance(value, bool) or isinstance(wanted, bool):
        return type(value) is type(wanted) and value == wanted
    if isinstance(value, (dict, list)):
        return False
    return value == wanted


class _Compiler:
    def __init__(self, documents: dict[str, dict[str, Any]]) -> None:
        self._documents = documents
        self._done: dict[str, Check] = {}

    def compile_document(self, uri: str) -> Check | None:
        try:
            return self._ref(uri, "")
        except _Unsupported:
            return None

    def _ref(self, base: str, ref: str) -> Check:
        target = urljoin(base, ref)
        if target in self._done:
            return self._done[target]
        slot: list[Check] = []  # late binding, in case a schema refers to itself
        self._done[target] = lambda x: slot[0](x)
        document_uri, fragment = urldefrag(target)
        if document_uri not in self._documents:
            raise _Unsupported(target)
        node: Any = self._documents[document_uri]
        for part in (p for p in fragment.split("/") if p):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        slot.append(self._schema(node, document_uri))
        self._done[target] = slot[0]
        return slot[0]

    def _schema(self, schema: Any, base: str) -> Check:
        if schema is True:
            return lambda x: True
        if schema is False:
            return lambda x: False
        if not isinstance(schema, dict):
            raise _Unsupported(schema)
        checks: list[Check] = []
        for key, value in schema.items():
            if key in _ANNOTATIONS or key in ("then", "else"):
                continue
            checks.append(self._keyword(key, value, schema, base))
        if not checks:
            return lambda x: True
        if len(checks) == 1:
            return checks[0]
        frozen = tuple(checks)

        def every(x: Any) -> bool:
            for check in frozen:
                if not check(x):
                    return False
            return True

        return every

    def _keyword(self, key: str, value: Any, schema: dict[str, Any], base: str) -> Check:
        if key == "type":
            names = [value] if isinstance(value, str) else list(value)
            tests = tuple(_TYPES[n] for n in names)
            if len(tests) == 1:
                return tests[0]
            return lambda x: any(t(x) for t in tests)
        if key == "const":
            if isinstance(value, (dict, list)):
                raise _Unsupported(key)
            return lambda x: _scalar_equal(x, value)
        if key == "enum":
            if any(isinstance(v, (dict, list)) for v in value):
                raise _Unsupported(key)
            options = tuple(value)
            return lambda x: any(_scalar_equal(x, v) for v in options)
        if key == "required":
            keys = tuple(value)
            return lambda x: not isinstance(x, dict) or all(k in x for k in keys)
        if key == "properties":
            props = tuple((name, self._schema(sub, base)) for name, sub in value.items())

            def properties(x: Any) -> bool:
                if not isinstance(x, dict):
                    return True
                for name, check in props:
                    if name in x and not check(x[name]):
                        return False
                return True

            return properties
        if key == "items":
            each = self._schema(value, base)
            return lambda x: not isinstance(x, list) or all(each(v) for v in x)
        if key == "minimum":
            number = _TYPES["number"]
            return lambda x: not number(x) or x >= value
        if key == "$ref":
            return self._ref(base, value)
        if key == "allOf":
            parts = tuple(self._schema(sub, base) for sub in value)
            return lambda x: all(p(x) for p in parts)
        if key == "anyOf":
            parts = tuple(self._schema(sub, base) for sub in value)
            return lambda x: any(p(x) for p in parts)
        if key == "if":
            test = self._schema(value, base)
            then = self._schema(schema.get("then", True), base)
            otherwise = self._schema(schema.get("else", True), base)
            return lambda x: then(x) if test(x) else otherwise(x)
        raise _Unsupported(key)
