"""Baselines: known failures accepted, stale entries fail, bad files are usage errors."""
from __future__ import annotations

from pathlib import Path

import pytest

from responses_conformance import baseline
from responses_conformance.reference import ReferenceServer

from .test_plugin import results, run_pytest

SCENARIOS = {"text-stream", "text-nonstream"}


def test_entries_parse_with_reasons() -> None:
    parsed = baseline.parse("# comment\n\nsequence.contiguous  # gaps (#1)\ntext-stream:usage.total_is_sum # x\n",
                            Path("b.txt"), SCENARIOS)
    assert [(e.scenario, e.check, e.reason) for e in parsed.entries] == [
        (None, "sequence.contiguous", "gaps (#1)"), ("text-stream", "usage.total_is_sum", "x")]
    assert parsed.find("text-stream", "usage.total_is_sum").scenario == "text-stream"
    assert parsed.find("text-nonstream", "usage.total_is_sum") is None
    assert parsed.find("text-nonstream", "sequence.contiguous").scenario is None


@pytest.mark.parametrize("text, message", [
    ("sequence.contiguous\n", "has no reason"),
    ("sequence.contiguous #   \n", "has no reason"),
    ("no.such_check # why\n", "unknown check id 'no.such_check'"),
    ("no-such-scenario:sequence.contiguous # why\n", "unknown scenario 'no-such-scenario'"),
    ("sequence.contiguous # a\nsequence.contiguous # b\n", "listed twice"),
    ("a b # why\n", "one entry a line"),
])
def test_bad_entries_are_usage_errors(text: str, message: str) -> None:
    with pytest.raises(baseline.BaselineError, match=message):
        baseline.parse(text, Path("b.txt"), SCENARIOS)


WRITTEN_ENTRY = "text-stream:usage.total_is_sum  # TODO"  # what --write-baseline writes for usage_total_wrong


def test_round_trip_write_then_rerun_green(tmp_path: Path) -> None:
    file = tmp_path / "known.txt"
    with ReferenceServer(faults=frozenset({"usage_total_wrong"})) as broken:
        # Two scenarios are enough to go round (the baseline lists what the run saw): the whole
        # suite twice cost this test twenty seconds on a loaded machine.
        args = [f"--target-url={broken.base_url}", "--model=ref-model-1", "-k", "text-stream or text-nonstream"]
        env = {"OPENAI_API_KEY": broken.api_key}
        code, output, _ = run_pytest(tmp_path, *args, f"--write-baseline={file}", env=env)
        assert code == 1, output
        written = file.read_text()
        assert WRITTEN_ENTRY in written
        # The project adopts it: rerun green, the failures shown as known.
        entries = [line for line in written.splitlines() if line and not line.startswith("#")]
        code, output, _ = run_pytest(tmp_path, *args, f"--baseline={file}", env=env)
        assert code == 0, output
        # One item per entry, each a known failure; none fails.
        assert f"{len(entries)} xfailed" in output and "known failures accepted" in output
        assert " failed" not in output.strip().splitlines()[-2]
        assert results(tmp_path)["summary"]["violations"]["known"] >= len(entries)


def test_an_entry_whose_behaviour_is_fixed_is_stale(tmp_path: Path) -> None:
    """The behaviour written down above is fixed: the entry is stale and the run fails until it is removed."""
    file = tmp_path / "known.txt"
    file.write_text(f"# written by --write-baseline\n{WRITTEN_ENTRY}\n")
    with ReferenceServer() as fixed:
        code, output, _ = run_pytest(tmp_path, f"--target-url={fixed.base_url}", "--model=ref-model-1", "-k",
                                     "text-stream", f"--baseline={file}", env={"OPENAI_API_KEY": fixed.api_key})
    assert code == 1
    assert "stale baseline entry: remove it: text-stream:usage.total_is_sum" in output


def test_a_stale_check_wide_entry_fails_the_run(tmp_path: Path) -> None:
    file = tmp_path / "known.txt"
    file.write_text("sequence.increasing  # we used to repeat numbers\n")
    code, output, _ = run_pytest(tmp_path, f"--baseline={file}", "-k", "text-stream",
                                 str(Path(__file__).parents[1] / "suite"))
    assert code == 1
    assert "stale baseline entry: remove it: sequence.increasing" in output
    assert results(tmp_path)["summary"]["verdict"] == "not conformant"


def test_an_unknown_id_in_the_baseline_is_a_usage_error(tmp_path: Path) -> None:
    file = tmp_path / "known.txt"
    file.write_text("sequence.nonsense  # ?\n")
    code, output, _ = run_pytest(tmp_path, f"--baseline={file}", str(Path(__file__).parents[1] / "suite"))
    assert code == pytest.ExitCode.USAGE_ERROR
    assert "unknown check id 'sequence.nonsense'" in output
