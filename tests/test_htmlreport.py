"""The HTML report of a sweep: built from real (small) sweeps, self-contained, well formed, escaped."""

from __future__ import annotations

import base64
import re
import sys
import types
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from model import experiment as exm
from model import results
from model.htmlreport import build_report, write_report
from model.sweep import Sweep, executor
from tests.factories import write_experiment


@pytest.fixture(autouse=True)
def no_discovery(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests do not depend on ``model.discovery`` (written separately): it is hidden, as if
    it were not installed; the tests of that section put in a stand-in."""
    monkeypatch.setitem(sys.modules, "model.discovery", None)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- sweeps (as in test_sweep.py)




def _sweep(f: Path, out: Path, backend: str = "serial", workers: int = 1) -> pd.DataFrame:
    sw = Sweep(exm.load(f), out)
    with executor(backend, workers) as pool:
        sw.run(pool)
    return results.load(out)


GRID_AXES: list[dict[str, Any]] = [
    {"path": "protocol.max_rounds", "values": [3, 8, 20]},
    {"path": "protocol.breakdown_risk", "range": [0.0, 0.4], "steps": 3},
]
SAMPLED_AXES: list[dict[str, Any]] = [
    {"path": "protocol.max_rounds", "range": [2, 30], "integer": True},
    {"path": "protocol.breakdown_risk", "range": [0.0, 0.5]},
    {"path": "actors.X.reservation", "range": [0.0, 0.6]},
]
DESCRIPTION = "Does time help? <script>alert('x')</script> & more"


@pytest.fixture(scope="module")
def grid_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("grid")
    f = write_experiment(tmp, GRID_AXES, name="horizon_and_risk", description=DESCRIPTION, chunk_size=5)
    df = _sweep(f, tmp / "out")
    assert len(df) == 27 and 0 < df["agreed"].mean() < 1
    return tmp / "out"


@pytest.fixture(scope="module")
def sobol_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("sobol")
    f = write_experiment(tmp, SAMPLED_AXES, {"kind": "sobol", "samples": 4}, replicates=2)
    df = _sweep(f, tmp / "out")
    assert len(df) == 4 * (3 + 2) * 2 and 0 < df["agreed"].mean() < 1
    return tmp / "out"


# ---------------------------------------------------------------------------- checks


class StrictParser(HTMLParser):
    """Checks that every element is closed in order (void elements excepted)."""

    VOID = {"meta", "img", "br", "hr", "link", "input", "col", "source", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1] if self.stack else 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> StrictParser:
    p = StrictParser()
    p.feed(page)
    p.close()
    assert p.problems == [] and p.stack == [], (p.problems, p.stack)
    assert page.startswith("<!DOCTYPE html>")
    return p


def images(p: StrictParser) -> list[bytes]:
    out = []
    for tag, attrs in p.tags:
        if tag == "img":
            src = attrs["src"] or ""
            assert src.startswith("data:image/png;base64,"), src[:40]
            out.append(base64.b64decode(src.removeprefix("data:image/png;base64,"), validate=True))
    return out


class TableParser(HTMLParser):
    """The page's tables that have a header row, as DataFrames of text (numbers where they parse)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        self.heads: list[bool] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
            self.heads.append(False)
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self.cell = []
            if tag == "th" and not self.tables[-1][:-1]:
                self.heads[-1] = True

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None:
            self.tables[-1][-1].append("".join(self.cell).strip())
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def tables(page: str) -> list[pd.DataFrame]:
    p = TableParser()
    p.feed(page)
    out = []
    for rows, head in zip(p.tables, p.heads, strict=True):
        if head and rows:
            cols = list(rows[0])
            for k, c in enumerate(cols):  # unique column names, as pandas would make them
                if cols.index(c) < k:
                    cols[k] = f"{c}.{cols[:k].count(c)}"
            df = pd.DataFrame(rows[1:], columns=cols)
            for c in df.columns:
                df[c] = _numeric(df[c])
            out.append(df)
    return out


def _numeric(s: pd.Series) -> pd.Series:
    try:
        return pd.to_numeric(s)
    except (ValueError, TypeError):
        return s


# ---------------------------------------------------------------------------- the report


@pytest.mark.slow
def test_a_grid_report_is_one_self_contained_well_formed_page(grid_sweep: Path) -> None:
    path = write_report(grid_sweep)
    assert path == grid_sweep / "report.html" and path.is_file()
    assert not list(grid_sweep.glob(".report.html.*"))  # the temporary file was renamed into place
    page = path.read_text(encoding="utf-8")
    p = parse(page)
    pngs = images(p)
    # heatmap over the two axes, agreement by each axis (2), utility at agreement, rounds to agreement
    assert len(pngs) == 5
    assert all(png.startswith(b"\x89PNG\r\n\x1a\n") for png in pngs)
    assert page.count("data:image/png;base64,") == 5
    assert not any(tag in ("script", "link", "iframe") for tag, _ in p.tags)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing fetched from elsewhere
    mf = results.manifest(grid_sweep)
    assert "horizon_and_risk" in page and mf["scenario_sha256"] in page and mf["experiment_sha256"] in page
    assert mf["git_revision"] is None or mf["git_revision"] in page
    assert mf["versions"]["numpy"] in page


@pytest.mark.slow
def test_the_agreement_rate_table_matches_the_results(grid_sweep: Path) -> None:
    page = build_report(grid_sweep)
    rates = results.agreement_rates(results.load(grid_sweep), ["axis.protocol.max_rounds",
                                                                "axis.protocol.breakdown_risk"])
    (table,) = [t for t in tables(page) if "agreement" in t.columns]
    # the conditions by their labels (model.labels), not their paths
    assert list(table.columns) == ["number of rounds", "risk of breakdown per round", "agreement", "runs finished",
                                   "runs failed"]
    assert len(table) == 9
    assert table["agreement"].tolist() == [f"{r:.0%}" for r in rates["rate"]]
    assert table["runs finished"].tolist() == [3] * 9


@pytest.mark.slow
def test_text_from_the_experiment_is_escaped(grid_sweep: Path) -> None:
    page = build_report(grid_sweep)
    assert "<script>" not in page
    assert "Does time help? &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more" in page
    assert DESCRIPTION in "".join(parse(page).text)  # and reads back as the text written


@pytest.mark.slow
def test_a_sobol_report_has_the_sensitivity_table_and_plot(sobol_sweep: Path) -> None:
    page = build_report(sobol_sweep)
    p = parse(page)
    pngs = images(p)
    # no heatmap (sampled axes), agreement by each of 3 axes, utility, rounds, sensitivity
    assert len(pngs) == 3 + 2 + 1
    assert all(png.startswith(b"\x89PNG\r\n\x1a\n") for png in pngs)
    assert "Sensitivity of agreement" in page
    (sens,) = [t for t in tables(page) if "ST" in t.columns]
    assert list(sens.columns) == ["condition", "S1", "95% interval", "ST", "95% interval.1"]
    assert sorted(sens["condition"]) == sorted(a["path"] for a in SAMPLED_AXES)
    (rates,) = [t for t in tables(page) if "agreement" in t.columns]
    assert rates.columns[0] == "number of rounds" and len(rates) <= 5  # a sampled axis, in bins
    assert rates["runs finished"].sum() == 40


@pytest.mark.slow
def test_a_morris_report_has_the_screening_table(tmp_path: Path) -> None:
    f = write_experiment(tmp_path, SAMPLED_AXES, {"kind": "morris", "samples": 4, "levels": 4}, replicates=2)
    _sweep(f, tmp_path / "out")
    page = build_report(tmp_path / "out")
    parse(page)
    (sens,) = [t for t in tables(page) if "mu*" in t.columns]
    assert list(sens.columns) == ["condition", "mu*", "95% interval", "sigma", "mu (signed)"]
    assert len(sens) == 3


@pytest.mark.slow
def test_a_report_without_a_sobol_or_morris_design_has_no_sensitivity_section(grid_sweep: Path) -> None:
    assert "Sensitivity" not in build_report(grid_sweep)


def _record_as_written(part: Path) -> None:
    """Record a part changed by hand as the sweep records the parts it writes (its sha256 in the
    journal), so that loading takes it as written rather than as damaged."""
    import json

    from model.sweep import JOURNAL_FILE, file_sha256

    rec = {"part": part.name, "chunk": int(part.stem.split("-")[1]), "rows": pq.read_metadata(part).num_rows,
           "sha256": file_sha256(part), "worker_died": 0}
    with open(part.parent / JOURNAL_FILE, "a", encoding="utf-8") as f:
        f.write(json.dumps(rec) + "\n")


@pytest.mark.slow
def test_failed_runs_are_counted_and_their_errors_listed_escaped(tmp_path: Path, grid_sweep: Path) -> None:
    import shutil

    out = tmp_path / "out"
    shutil.copytree(grid_sweep, out)
    part = sorted(out.glob("part-*.parquet"))[0]
    t = pq.read_table(part).to_pandas()
    t["agreed"] = t["agreed"].astype(object)
    t.loc[:1, "error"] = "ValueError: bad <b>thing</b>"
    t.loc[:1, "agreed"] = None
    pq.write_table(pa.Table.from_pandas(t, schema=pq.read_schema(part), preserve_index=False), part)
    _record_as_written(part)
    page = build_report(out)
    parse(page)
    assert "ValueError: bad &lt;b&gt;thing&lt;/b&gt;" in page
    (fails,) = [t for t in tables(page) if "error" in t.columns]
    assert fails["runs"].tolist() == [2]


@pytest.mark.slow
def test_without_the_discovery_module_the_section_is_left_out(grid_sweep: Path) -> None:
    page = build_report(grid_sweep)
    assert "scenario discovery" not in page
    parse(page)


@pytest.mark.slow
def test_discovery_boxes_appear_as_sentences_when_the_module_is_there(grid_sweep: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("model.discovery")
    fake.discover = lambda df, outcome="agreed": [{"risk": "<= 0.2"}]  # type: ignore[attr-defined]
    fake.describe = lambda box, *_: "Agreement in 90% of runs where breakdown_risk <= 0.2"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "model.discovery", fake)
    page = build_report(grid_sweep)
    assert "scenario discovery" in page and "where breakdown_risk &lt;= 0.2" in page
    broken = types.ModuleType("model.discovery")
    broken.discover = lambda df: []  # type: ignore[attr-defined]  # another API: the section is left out
    broken.describe = lambda box: ""  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "model.discovery", broken)
    with pytest.warns(UserWarning, match="scenario discovery left out of the report: TypeError"):
        page = build_report(grid_sweep)
    parse(page)
    assert "scenario discovery" not in page


# ---------------------------------------------------------------------------- folders that are not reports


def test_an_empty_folder_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no readable manifest.json: is this a sweep's results folder") as e:
        build_report(tmp_path)
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="no such folder"):
        build_report(tmp_path / "missing")
    assert not (tmp_path / "report.html").exists()


def test_a_sweep_with_no_finished_runs_is_refused(tmp_path: Path, grid_sweep: Path) -> None:
    import shutil

    shutil.copy(grid_sweep / "manifest.json", tmp_path / "manifest.json")
    with pytest.raises(ValueError, match="holds no finished runs yet"):
        write_report(tmp_path)
    assert not (tmp_path / "report.html").exists()


@pytest.mark.slow
def test_an_incomplete_sweep_is_refused_unless_asked_for_a_partial_report(tmp_path: Path, grid_sweep: Path) -> None:
    import shutil

    out = tmp_path / "out"
    shutil.copytree(grid_sweep, out)
    (out / "report.html").unlink(missing_ok=True)
    sorted(out.glob("part-*.parquet"))[-1].unlink()
    with pytest.raises(ValueError, match=r"the sweep is incomplete \(25 of 27 runs on disk, status complete\)"):
        write_report(out)
    page = write_report(out, tmp_path / "elsewhere" / "partial.html", allow_incomplete=True).read_text()
    parse(page)
    assert "Partial results: 25 of 27 runs are on disk" in page


@pytest.mark.slow
def test_the_header_says_what_was_modelled_scenario_actors_issues_protocol(grid_sweep: Path) -> None:
    from model import scenario as scn

    page = build_report(grid_sweep)
    resolved = (grid_sweep / results.manifest(grid_sweep)["resolved"]).read_text(encoding="utf-8")
    import json

    sc = scn.parse(json.loads(resolved)["scenario"])
    head = page[: page.index("<h2>Results</h2>")]
    assert "What was modelled" in head and sc.spec.title in head
    found = tables(head)
    actors = next(t for t in found if "actor" in t.columns)
    assert actors["id"].tolist() == list(sc.problem.actor_ids)
    assert actors["its consent needed"].tolist() == ["yes" if c else "no (outside party)" for c in sc.problem.consent]
    issues = next(t for t in found if "issue" in t.columns)
    assert issues["issue"].tolist() == [i.label for i in sc.problem.space.issues]  # labels, not ids
    ordinal = [i for i in sc.problem.space.issues if i.levels]
    for i in ordinal:  # levels as words, in order
        row = issues[issues["id"] == i.id].iloc[0]
        assert row["levels (low to high)"] == ", ".join(n.replace("_", " ") for n, _ in i.levels)
    assert f"<h3>Protocol</h3><p>{sc.spec.protocol.kind}" in head


@pytest.mark.slow
def test_without_the_scenario_as_run_the_report_says_so(tmp_path: Path, grid_sweep: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(grid_sweep, copy)
    (copy / results.manifest(copy)["resolved"]).unlink()
    page = build_report(copy)
    assert "The scenario as run is not stored with these results." in page
