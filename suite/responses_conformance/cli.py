"""`responses-conformance`: the command line.

    responses-conformance run [--target-url URL] [pytest options]   the suite (pytest underneath)
    responses-conformance serve [--host H] [--port N] [--api-key K] the reference server
    responses-conformance checks [--markdown]                       the catalogue of checks
    responses-conformance scenarios [--json] [--profile P]          the scenarios, features and checks
    responses-conformance --version                                 the suite's version
    responses-conformance replay FILE... [--json] [--profile P]     check captured traffic offline
    responses-conformance tap --upstream URL [--listen HOST:PORT]   judge real clients' traffic live
    responses-conformance fuzz [--fuzz=N] [--fuzz-seed=S] [run options]  generated requests (fuzz mode)

Exit codes of `run` (results.Verdict, one computation for every output): 0 conformant, 1 not
conformant (a MUST rule broken, or a stale baseline entry), 2 interrupted, 4 usage error,
5 nothing tested, 6 could not test. 2 for a wrong call of the other commands. `replay`: see
`replay --help`.
"""
from __future__ import annotations

import argparse
import sys

from .engine import registry


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["--version"], ["-V"]):
        from . import suite_version

        print(f"responses-conformance {suite_version()}")
        return 0
    if argv and argv[0] == "run":
        return _run(argv[1:])
    if argv and argv[0] == "serve":
        from .reference.__main__ import main as serve_main

        try:
            return serve_main(argv[1:], prog="responses-conformance serve")
        except SystemExit as exc:  # argparse's way of saying "wrong call": exit code 2, no traceback
            return int(exc.code or 0)
    if argv and argv[0] == "replay":
        from . import replay

        return replay.main(argv[1:])  # its own parser: a wrong call is one line, exit 2
    if argv and argv[0] == "fuzz":
        from .fuzz_plugin import cli_main

        return cli_main(argv[1:], _run)  # `run --fuzz=N --fuzz-only`, with fuzz mode's own --help
    if argv and argv[0] == "tap":
        from . import tap

        return tap.main(argv[1:])  # its own parser and signal handling; exit codes of the verdict
    parser = argparse.ArgumentParser(prog="responses-conformance",
                                     description="Conformance suite for the OpenAI Responses API.")
    parser.add_argument("-V", "--version", action="store_true", help="print the suite's version and exit")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="run the conformance suite (all further options go to pytest)")
    commands.add_parser("serve", help="run the embedded reference server (see `serve --help`)")
    commands.add_parser("fuzz", help="fuzz mode alone: generated requests, findings shrunk (see `fuzz --help`)")
    checks = commands.add_parser("checks", help="print the catalogue of checks")
    checks.add_argument("--markdown", action="store_true", help="as the Markdown of CHECKS.md (all profiles)")
    checks.add_argument("--profile", default=None, help="severities of this profile (default: openai)")
    from . import replay  # listed here for --help; main() hands `replay` to its own parser above

    replay.add_arguments(commands.add_parser(
        "replay", help="check captured traffic offline (SSE, JSON lines, JSON bodies, HAR, live transcripts)"))
    commands.add_parser("tap", help="a transparent proxy that judges real clients' traffic live (see `tap --help`)")
    listing = commands.add_parser("scenarios", help="list the scenarios with their features and checks")
    listing.add_argument("--json", action="store_true", help="as JSON")
    listing.add_argument("--profile", default=None, help="the checks of this profile (default: openai)")
    args = parser.parse_args(argv)
    if args.profile is not None and args.profile not in _profile_names():
        print(f"responses-conformance: unknown profile {args.profile!r}; known: {', '.join(_profile_names())}",
              file=sys.stderr)
        return 2
    if args.command == "scenarios":
        from .report import scenario_catalogue

        print(scenario_catalogue(args.profile, as_json=args.json), end="")
        return 0
    print(render_catalogue() if args.markdown else _plain_catalogue(args.profile), end="")
    return 0


def _run(pytest_args: list[str]) -> int:
    import os

    import pytest

    from .plugin import SUITE_MODULE

    if any(arg in ("-h", "--help") for arg in pytest_args):
        print(run_help(), end="")
        return 0
    # This command has imported the package already, so pytest cannot rewrite its asserts
    # (it has none that need it) and would say so on every run.
    quiet = ["-W", "ignore::pytest.PytestAssertRewriteWarning"]
    # The suite module lives in the install; without this pytest would take the install folder
    # as its root and write its cache there. The user's folder is the root of their run.
    rootdir = [] if any(arg.startswith("--rootdir") for arg in pytest_args) else [f"--rootdir={os.getcwd()}"]
    return int(pytest.main([str(SUITE_MODULE), *quiet, *rootdir, *pytest_args]))


def run_help() -> str:
    """`run --help`: our options first (from the plugin itself, so they cannot drift), then a
    pointer to pytest's own."""
    import pytest
    from _pytest.config.argparsing import Parser

    from . import plugin

    import warnings

    with warnings.catch_warnings():  # pytest's Parser is public in use, private in name
        warnings.simplefilter("ignore")
        parser = Parser()
    plugin.pytest_addoption(parser)
    lines = ["usage: responses-conformance run [--target-url=URL] [options] [pytest options]", "",
             "Runs the conformance suite (pytest underneath) against --target-url, or against the embedded",
             "reference server when none is given. Give values as --option=value.", "",
             "responses-conformance options:"]
    for group in parser._groups:
        for option in group.options:
            names = ", ".join(option.names())
            text = " ".join(str(option.attrs().get("help", "")).split())
            lines.append(f"  {names}")
            lines.append(f"      {text}")
    lines += ["", "exit codes: 0 conformant, 1 not conformant, 2 interrupted, 4 usage error, 5 nothing tested,",
              "            6 could not test", "",
              "Every pytest option works too (-k, -m, -x, --html=..., ...): see `pytest --help`.", ""]
    del pytest
    return "\n".join(lines)


def _profile_names() -> list[str]:
    from .engine import profiles

    return list(profiles.PROFILES)


def _plain_catalogue(profile: str | None = None) -> str:
    from .engine import profiles

    chosen = profiles.get(profile)
    checks = [c for c in registry.CHECKS if chosen.enabled(c.id)]
    width = max(len(c.id) for c in checks)
    return "".join(f"{c.id:<{width}}  {str(chosen.severity(c.id)):<6}  {c.rule}\n" for c in checks)


def render_catalogue() -> str:
    """CHECKS.md, generated from the registry and the profiles (a test fails when it is stale)."""
    from . import evidence
    from .engine import profiles

    names = list(profiles.PROFILES)
    lines = [
        "# Checks",
        "",
        "Generated from `suite/responses_conformance/engine/registry.py` and `profiles.py` by "
        "`responses-conformance checks --markdown`; do not edit by hand.",
        "",
        "Severity per profile: MUST, a broken rule fails the run; SHOULD, it is reported as a warning; "
        "-, the check is not part of that profile.",
        "Applies to: the kinds of exchange a check is about (the table's `applies to` column).",
        "",
        *(f"- `{kind}`: {row.about}" + (f" (judged only with `{row.asked_with}`)" if row.asked_with else "") + "."
          for kind, row in registry.KIND_TABLE.items()),
        "",
        "Basis: where a rule comes from (SPEC, OR, OBS, SDK-PY, SDK-JS, ...) and the real bugs it would have caught "
        "(F-04, ...); each id links to its entry in [docs/evidence.md](docs/evidence.md).",
        "",
        "Profiles (`--profile`):",
        "",
    ]
    lines += [f"- `{name}`: {profiles.PROFILES[name].description}" for name in names]
    lines.append("")
    header = " | ".join(f"`{name}`" for name in names)
    for category in registry.CATEGORIES:
        lines += [f"## {category}", "",
                  f"| id | {header} | applies to | rule | basis |",
                  "| --- | " + " | ".join("---" for _ in names) + " | --- | --- | --- |"]
        for check in registry.CHECKS:
            if check.category == category:
                severities = " | ".join(str(profiles.PROFILES[n].severity(check.id) or "-") for n in names)
                applies = ", ".join(sorted(check.applies))
                rule = check.rule.replace("|", "\\|")
                basis = evidence.markdown(check.basis).replace("|", "\\|")  # ids link to docs/evidence.md
                lines.append(f"| `{check.id}` | {severities} | {applies} | {rule} | {basis} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
