"""The targets of a run: one (the usual case) or several, each with its own name, model and key.

    pytest --target-url=http://127.0.0.1:8000/v1                     # one target
    pytest --target-url=vllm=http://gpu1:8000/v1 --target-url=ollama=http://gpu2:11434/v1
    pytest --targets=targets.toml                                    # each with its model and key

A targets file (JSON or TOML) names each target and says where its key is, by environment
variable name, never the key itself (a file in a repository must not hold secrets):

    [targets.vllm]
    url = "http://gpu1:8000/v1"
    model = "Qwen/Qwen3-8B"
    api_key_env = "VLLM_KEY"

Pure parsing: no request is sent here. A problem that concerns one target only (its key's
variable is not set) is kept on that target as "could not test", so that the others still run;
a malformed option or file is a usage error for the whole run.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

from .preflight import UrlError, check_url

# Names appear in item ids (`test_check[vllm:text-stream:...]`), file names and report anchors.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
# `NAME=URL`: a name, then `=`, then something with a scheme (a bare URL has no `=` before its `://`).
_NAMED = re.compile(r"^([^=:/\s]+)=(.+)$")
FILE_KEYS = {"url": "base URL up to and including the version prefix (required)",
             "model": "the model to request (default: --model, or gpt-4o-mini)",
             "api_key_env": "the environment variable that holds this target's key (default: --api-key or "
                            "$OPENAI_API_KEY)",
             "auth_header": "header that carries the key (default: --auth-header)",
             "auth_scheme": "scheme before the key (default: --auth-scheme)",
             "upstream_url": "our reference server behind this target, when it is a proxy (--upstream-url)",
             "baseline": "this target's known failures (--baseline), relative to the targets file"}


class TargetsError(ValueError):
    """A malformed --target-url or --targets file: a usage error. Never holds a key."""


@dataclass(frozen=True)
class TargetSpec:
    name: str
    url: str | None  # None: the embedded reference server
    model: str | None = None  # None: the default (--model, or the reference model, or gpt-4o-mini)
    api_key: str | None = field(default=None, repr=False)
    auth_header: str | None = None  # None: --auth-header
    auth_scheme: str | None = None  # None: --auth-scheme
    upstream_url: str | None = None
    baseline: Path | None = None  # its own known failures (else --baseline's, if any)
    # A setup problem of this target alone, found before any request: "could not test", with its fix.
    problem: str | None = None


@dataclass(frozen=True)
class Defaults:
    """What the command line says for every target that does not say otherwise."""

    model: str | None = None
    api_key: str | None = field(default=None, repr=False)
    upstream_url: str | None = None


def default_name(url: str) -> str:
    """A target given without a name is named after its host (and port): `127.0.0.1-8000`."""
    parts = urlsplit(url)
    name = (parts.hostname or "target") + (f"-{parts.port}" if parts.port else "")
    return re.sub(r"[^A-Za-z0-9_.-]", "-", name)[:64]


def split_named(value: str) -> tuple[str | None, str]:
    """`vllm=http://host/v1` -> ("vllm", url); a bare URL -> (None, url)."""
    match = _NAMED.match(value.strip())
    if match and "://" in match.group(2):
        return match.group(1), match.group(2).strip()
    return None, value.strip()


def _checked_name(name: str, where: str) -> str:
    if not NAME.fullmatch(name):
        raise TargetsError(f"{where}: target name {name[:40]!r}: use letters, digits, '.', '_' or '-' "
                           f"(at most 64, starting with a letter or digit)")
    return name


def _checked_url(url: str, where: str) -> str:
    try:
        return check_url(url)
    except UrlError as exc:
        raise TargetsError(f"{where}: {exc}") from None


def from_command_line(values: list[str], defaults: Defaults) -> list[TargetSpec]:
    """The targets of `--target-url`, given once or more (`URL` or `NAME=URL`)."""
    specs: list[TargetSpec] = []
    named = {split_named(value)[0] for value in values}
    for value in values:
        name, url = split_named(value)
        where = "--target-url" if name is None else f"--target-url {name}="
        url = _checked_url(url, where)
        if name is not None:
            name = _checked_name(name, where)
        else:  # two paths on one host (a gateway's routes) get -2, -3: a name is still unique
            name = base = default_name(url)
            taken = named | {spec.name for spec in specs}
            suffix = 2
            while name in taken:
                name, suffix = f"{base}-{suffix}", suffix + 1
        specs.append(TargetSpec(name=name, url=url, model=defaults.model, api_key=defaults.api_key,
                                upstream_url=defaults.upstream_url))
    return specs


def load_file(path: Path, defaults: Defaults, environ: Mapping[str, str] | None = None) -> list[TargetSpec]:
    """The targets of a `--targets FILE` (JSON, or TOML by its `.toml` suffix)."""
    environ = os.environ if environ is None else environ
    where = f"--targets {path.name}"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TargetsError(f"{where}: cannot read it: {exc.strerror or exc}") from None
    data = _parse(text, path, where)
    table = data.get("targets") if isinstance(data, dict) else None
    if not isinstance(table, dict) or not table:
        raise TargetsError(f"{where}: expected a table of targets by name: "
                           f"{{\"targets\": {{\"NAME\": {{\"url\": \"https://host/v1\", ...}}}}}} "
                           f"(TOML: [targets.NAME] with url = ...)")
    unknown_top = sorted(set(data) - {"targets"})
    if unknown_top:
        raise TargetsError(f"{where}: unknown top-level keys {', '.join(map(repr, unknown_top))}; only 'targets'")
    specs = []
    for name, entry in table.items():
        here = f"{where}: target {name!r}"
        _checked_name(str(name), where)
        if not isinstance(entry, dict):
            raise TargetsError(f"{here}: expected a table with url, model, api_key_env, ...")
        if "api_key" in entry or "key" in entry:
            # Never echo the value: it is a secret written where it should not be.
            raise TargetsError(f"{here}: keys are never written in the targets file; put the key in an environment "
                               f"variable and name it with api_key_env")
        unknown = sorted(set(entry) - set(FILE_KEYS))
        if unknown:
            raise TargetsError(f"{here}: unknown keys {', '.join(map(repr, unknown))}; known: "
                               f"{', '.join(FILE_KEYS)}")
        for key, value in entry.items():
            if not isinstance(value, str) or (key != "auth_scheme" and not value.strip()):
                raise TargetsError(f"{here}: {key} must be a non-empty string")
        if "url" not in entry:
            raise TargetsError(f"{here}: url is required")
        url = _checked_url(entry["url"], here)
        upstream = _checked_url(entry["upstream_url"], f"{here}: upstream_url") if "upstream_url" in entry else None
        api_key, problem = defaults.api_key, None
        variable = entry.get("api_key_env")
        if variable is not None:
            api_key = environ.get(variable) or None
            if api_key is None:
                problem = (f"the environment variable {variable} (api_key_env of target {name}) is not set: "
                           f"export {variable}=<key>, or remove api_key_env to use --api-key or $OPENAI_API_KEY")
        specs.append(TargetSpec(name=str(name), url=url, model=entry.get("model") or defaults.model,
                                api_key=api_key, auth_header=entry.get("auth_header"),
                                auth_scheme=entry.get("auth_scheme"), upstream_url=upstream or defaults.upstream_url,
                                baseline=(path.parent / entry["baseline"]).resolve() if "baseline" in entry else None,
                                problem=problem))
    return specs


def _parse(text: str, path: Path, where: str) -> Any:
    if path.suffix.lower() == ".toml":
        try:
            import tomllib
        except ImportError:  # Python 3.10
            import tomli as tomllib  # type: ignore[no-redef]
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise TargetsError(f"{where}: not valid TOML: {exc}") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise TargetsError(f"{where}: not valid JSON ({exc}); a TOML file must end in .toml") from None


def combine(specs: list[TargetSpec]) -> list[TargetSpec]:
    """The run's targets, each name once."""
    seen: dict[str, TargetSpec] = {}
    for spec in specs:
        if spec.name in seen:
            raise TargetsError(f"two targets are named {spec.name!r}: give each its own name (NAME=URL)")
        seen[spec.name] = spec
    return list(seen.values())
