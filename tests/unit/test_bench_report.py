"""`python -m bench.report --docs` writes the newest result of each benchmark into the docs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import report as bench_report
from bench.report import Report


def _save(folder: Path, bench: str, stamp: str, value: float) -> None:
    report = Report(bench, f"{bench} title", {"items": 100}, 1)
    report.add("rate", "items/s", value)
    report.save(folder / f"{bench}-{stamp}.json")


def _docs(tmp_path: Path) -> Path:
    docs = tmp_path / "performance.md"
    docs.write_text(f"# Perf\n\nbefore\n\n{bench_report.START}\nold\n{bench_report.END}\n\nafter\n")
    return docs


def test_the_newest_result_of_each_benchmark_goes_between_the_markers(tmp_path: Path) -> None:
    results = tmp_path / "results"
    _save(results, "broker", "20260101-100000", 111.0)
    _save(results, "broker", "20260102-100000", 222.0)
    _save(results, "latency", "20260101-120000", 7.5)
    docs = _docs(tmp_path)
    args = ["--docs", "--results", str(results), "--docs-path", str(docs)]
    assert bench_report.main(args) == 0
    text = docs.read_text()
    assert "222" in text and "111" not in text and "7.5" in text
    assert "2026-01-02 10:00" in text and "old" not in text
    assert text.startswith("# Perf\n\nbefore\n") and text.endswith("\n\nafter\n")
    assert bench_report.main(args) == 0
    assert docs.read_text() == text


def test_a_combined_run_counts_with_its_stamp(tmp_path: Path) -> None:
    results = tmp_path / "results"
    _save(results, "broker", "20260101-100000", 111.0)
    saved = json.loads((results / "broker-20260101-100000.json").read_text())
    saved["figures"]["rate"]["median"] = 333.0
    run = {"tiny": True, "reports": [saved]}
    (results / "run-20260103-100000.json").write_text(json.dumps(run))
    [newest] = bench_report.latest(results)
    assert newest["stamp"] == "20260103-100000" and newest["tiny"] is True
    assert "(tiny)" in bench_report.docs_section([newest])


def test_without_results_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = _docs(tmp_path)
    before = docs.read_text()
    args = ["--docs", "--results", str(tmp_path / "none"), "--docs-path", str(docs)]
    assert bench_report.main(args) == 1
    assert "no results" in capsys.readouterr().err
    assert docs.read_text() == before


def test_the_docs_page_has_the_markers() -> None:
    text = bench_report.DOCS.read_text()
    assert bench_report.START in text and bench_report.END in text
