"""The evidence portal without a browser: its views, links, determinism, escaping and the CLI."""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import itertools
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest
from portal_support import INJECTION, POLICY_TEXT, build_store
from support import REPO, run_cli
from test_report import prov

from evidentia.catalog import load_builtin
from evidentia.collector import Artefact, Finding
from evidentia.report import build_coverage
from evidentia.report.portal import PORTAL_FILES, render_portal, write_portal
from evidentia.report.portal.frameworks import control_findings
from evidentia.report.portal.views import days, heatmap, instances
from evidentia.signing import generate_key_pair, load_public_key, sign_store
from evidentia.store.local import LocalStore
from evidentia.store.records import file_artefact, file_catalog_if_changed
from evidentia.store.verify import verify_store

UTC = dt.timezone.utc
LATER = dt.datetime(2031, 1, 1, tzinfo=UTC)  # long after collection: everything is stale


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_store(tmp_path_factory.mktemp("portal"))


@pytest.fixture(scope="module")
def now(store: Path) -> dt.datetime:
    """A moment just after the collection, so fresh evidence is fresh."""
    return build_coverage(store).generated_at


class Page(HTMLParser):
    """The page's structure as a browser's parser sees it: elements, links, headings, scripts."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[dict[str, str | None]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self.scripts.append(dict(attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def hrefs(self) -> list[str]:
        return [str(a["href"]) for t, a in self.tags if t == "a" and a.get("href")]

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag]


def page_of(path: Path) -> tuple[str, Page]:
    text = path.read_text(encoding="utf-8")
    return text, Page(text)


def test_write_portal_to_a_folder_links_every_artefact_and_its_metadata(
    store: Path, tmp_path: Path, now: dt.datetime
) -> None:
    out = tmp_path / "site"
    index = write_portal(store, out, generated_at=now)
    assert index == out / "index.html"
    assert sorted(p.name for p in out.iterdir()) == sorted(PORTAL_FILES)
    _, page = page_of(index)
    files = {h for h in page.hrefs() if not h.startswith("#")}
    assert files, "no links to evidence"
    for href in files:
        assert (out / unquote(href)).resolve().is_file(), href  # relative links resolve from the page
    coverage = build_coverage(store, now=now)
    for a in coverage.artefacts:
        assert any(unquote(h).endswith(a.path) for h in files), a.path
        assert any(unquote(h).endswith(a.path + ".meta.json") for h in files), a.meta_path


def test_page_states_generation_time_ledger_head_and_verification(
    store: Path, tmp_path: Path, now: dt.datetime
) -> None:
    index = write_portal(store, tmp_path, generated_at=now)
    text, page = page_of(index)
    last = (store / "ledger.jsonl").read_bytes().splitlines(keepends=True)[-1]
    head, seq = hashlib.sha256(last).hexdigest(), json.loads(last)["seq"]
    assert head in text and f"seq {seq}" in text
    assert now.strftime("%Y-%m-%d %H:%M:%S") in text
    assert "Verified intact" in text
    words = " ".join(page.text)
    assert "evidentia verify ." in words
    assert "sha256sum -c --quiet" in words  # the README's stock-tools procedure, as text
    data = json.loads((tmp_path / "index.json").read_text())
    assert data["ledger_head"] == {
        "sha256": head,
        "seq": seq,
        "first_seq": 1,
        "lines": len((store / "ledger.jsonl").read_bytes().splitlines()),
    }
    assert data["verification"]["ok"] is True
    assert not Path(data["report"]["store"]).is_absolute()
    assert str(tmp_path) not in (tmp_path / "index.json").read_text()  # no absolute paths


def test_tampered_store_is_reported_not_intact_with_the_discrepancy(tmp_path: Path, store: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(store, copy)
    victim = next(p for p in copy.glob("P*/policies/*ai-security-policy.md"))
    victim.write_text(POLICY_TEXT + "edited\n", encoding="utf-8")
    index = write_portal(copy, tmp_path / "site")
    text, _ = page_of(index)
    assert "NOT intact" in text and "Verified intact" not in text
    assert f"changed: {victim.relative_to(copy).as_posix()}: content SHA-256" in text
    assert json.loads((tmp_path / "site" / "index.json").read_text())["verification"]["ok"] is False


def test_rendering_is_deterministic(store: Path, tmp_path: Path, now: dt.datetime) -> None:
    first = write_portal(store, tmp_path / "a", generated_at=now).read_bytes()
    second = write_portal(store, tmp_path / "a", generated_at=now).read_bytes()
    assert first == second
    assert (tmp_path / "a" / "index.json").read_bytes() == render_portal(
        store, tmp_path / "a", generated_at=now
    )[1]
    later = write_portal(store, tmp_path / "b", generated_at=now + dt.timedelta(seconds=1)).read_bytes()
    assert later != first  # the moment is part of the page, so it is not a constant


def test_markup_in_findings_is_escaped_and_scripts_are_pinned(
    store: Path, tmp_path: Path, now: dt.datetime
) -> None:
    text, page = page_of(write_portal(store, tmp_path, generated_at=now))
    assert INJECTION not in text
    assert "<img src=x" not in text
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in text
    assert not [a for a in page.all("img")]
    executable = [s for s in page.scripts if s.get("type") != "application/json"]
    assert len(executable) == 1  # only the portal's own script, and the CSP pins it by hash
    csp = next(m["content"] for m in page.all("meta") if m.get("http-equiv") == "Content-Security-Policy")
    assert csp and "script-src 'sha256-" in csp and "unsafe-inline" not in csp
    assert INJECTION in " ".join(page.text)  # shown to the auditor, as text


def test_page_structure_is_accessible(store: Path, tmp_path: Path, now: dt.datetime) -> None:
    _, page = page_of(write_portal(store, tmp_path, generated_at=now))
    names = [t for t, _ in page.tags]
    assert names.count("h1") == 1
    for landmark in ("header", "nav", "main", "footer"):
        assert landmark in names
    levels = [int(t[1]) for t in names if re.fullmatch(r"h[1-6]", t)]
    assert all(b <= a + 1 for a, b in itertools.pairwise(levels)), "a heading level was skipped"
    assert names.count("table") == names.count("caption")
    assert all(a.get("scope") in ("col", "row") for a in page.all("th"))
    ids = {a["id"] for _, a in page.tags if a.get("id")}
    for control in page.all("input") + page.all("select"):
        if control.get("type") == "checkbox":
            continue  # wrapped in their label
        assert control.get("id") in {a.get("for") for a in page.all("label")}, control
    internal = [h[1:] for h in page.hrefs() if h.startswith("#")]
    assert internal and all(unquote(h) in ids for h in internal), set(internal) - ids


def test_views_group_evidence_by_instance_day_and_heatmap(store: Path, now: dt.datetime) -> None:
    coverage = build_coverage(store, now=now)
    by_instance = {i.instance: i for i in instances(coverage)}
    assert set(by_instance) == {"policies", "vendors", "echo", "changes"}
    echo = by_instance["echo"]
    assert (echo.artefacts, echo.current, echo.findings, echo.status) == (3, 3, 1, "fresh")
    assert echo.principles == ("P5", "P8") and echo.last_run == "ok"
    assert by_instance["vendors"].findings >= 2  # overdue and never assessed
    assert by_instance["changes"].kinds == ("events",)

    (today,) = days(coverage)
    assert today.artefacts == len(coverage.artefacts) and today.fresh == today.artefacts
    assert set(today.instances) == set(by_instance) and today.failed == ()

    rows = heatmap(coverage)
    a59 = next(r for r in rows if r.framework == "iso27001" and r.control.id == "A.5.9")
    mapped = {c.principle: c for c in a59.cells if c is not None}
    p5 = coverage.principle("P5")
    assert mapped["P5"].current == len([a for a in p5.artefacts if a.superseded_by is None]) > 0
    assert mapped["P5"].status == "fresh" and mapped["P5"].fit == "primary"
    assert len(a59.cells) == len(coverage.principles)
    for row in rows:  # every mapping of the control is one cell, and nothing else is
        assert {c.principle for c in row.cells if c} == {link.principle for link in row.control.links}
    findings = {p.id: p.findings for p in coverage.principles}
    odd = [f for f in control_findings(a59.control, findings) if f.code == "odd-item"]
    assert len(odd) == 1  # item-1 is filed under P5 and P8, both mapped to A.5.9: one finding


def test_freshness_follows_the_moment_of_rendering(store: Path, tmp_path: Path) -> None:
    stale = build_coverage(store, now=LATER)
    assert {i.status for i in instances(stale)} == {"stale"}
    text, _ = page_of(write_portal(store, tmp_path, generated_at=LATER))
    assert 'class="badge fresh"' not in text.split('id="artefacts"')[1]
    assert "2031-01-01 00:00:00 UTC" in text


def test_superseded_snapshots_and_many_artefacts_stay_bounded(tmp_path: Path) -> None:
    """Thousands of filings: each principle and control shows the newest few, the table has all."""
    root = tmp_path / "big"
    cat = load_builtin()
    t0 = dt.datetime(2026, 3, 1, tzinfo=UTC)
    with LocalStore(root) as s:
        file_catalog_if_changed(s, cat, t0)
        for i in range(300):
            findings = [Finding("f", f"finding {i}", "high")] if i % 10 == 0 else []
            art = Artefact.json(f"item-{i % 150}", {"i": i}, findings=findings)
            file_artefact(s, cat, art, ["P5"], prov(t0 + dt.timedelta(minutes=i), instance="bulk"))
        s.flush()
    coverage = build_coverage(root, now=t0 + dt.timedelta(hours=6))
    assert len(coverage.artefacts) == 300
    assert sum(1 for a in coverage.artefacts if a.superseded_by is not None) == 150
    text, _ = page_of(write_portal(root, tmp_path / "site", generated_at=t0 + dt.timedelta(hours=6)))
    rows = re.findall(r'<tr data-p="P5"', text)
    assert len(rows) == 300
    principle = text.split('id="p-P5"')[1].split("</article>")[0]
    assert "the first 25 of 150" in principle  # current evidence only, newest first
    assert "All 300 artefacts filed under P5" in principle
    assert principle.count("superseded") == 0


def test_cli_report_html_into_the_store_and_into_a_folder(store: Path, tmp_path: Path) -> None:
    copy = tmp_path / "store"
    shutil.copytree(store, copy)
    done = run_cli("report", "--store", str(copy), "--format", "html", cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert (copy / "index.html").is_file() and (copy / "index.json").is_file()
    assert f"wrote {copy / 'index.html'}" in done.stderr
    _, page = page_of(copy / "index.html")
    assert all(not h.startswith("..") for h in page.hrefs())  # the page sits at the store's top
    out = tmp_path / "site"
    done = run_cli("report", "--store", str(copy), "--format", "html", "--output", str(out), cwd=REPO)
    assert done.returncode == 0 and (out / "index.html").is_file()
    bad = run_cli(
        "report", "--store", str(copy), "--format", "html", "--output", str(out / "index.html"), cwd=REPO
    )
    assert bad.returncode == 2 and "writes a folder" in bad.stderr
    bad = run_cli("report", "--store", str(copy), "--format", "json", "--output", str(out), cwd=REPO)
    assert bad.returncode == 2 and "writes one file" in bad.stderr


def test_portal_written_into_the_store_keeps_it_verifiable(store: Path, tmp_path: Path) -> None:
    copy = tmp_path / "store"
    shutil.copytree(store, copy)
    write_portal(copy)
    result = verify_store(copy)
    assert result.ok, [str(d) for d in result.discrepancies]
    text, _ = page_of(write_portal(copy))  # rendered again over the first: still intact
    assert "Verified intact" in text


def _pre_blocks(text: str) -> list[str]:
    return [html.unescape(b) for b in re.findall(r"<pre><code>(.*?)</code></pre>", text, re.S)]


def test_the_stock_tools_procedure_is_the_folders_own_and_complete(
    store: Path, tmp_path: Path, now: dt.datetime
) -> None:
    """The page shows the store README's procedure whole: its sentence and every line of its block."""
    text, _ = page_of(write_portal(store, tmp_path, generated_at=now))
    readme = (store / "README.md").read_text(encoding="utf-8")
    section = readme.split("With stock tools", 1)[1]
    block = [line[4:] for line in section.splitlines() if line.startswith("    ")]
    assert block and block[0].startswith("# 1.")
    (shown,) = [b for b in _pre_blocks(text) if "sha256sum" in b]
    assert [x for x in shown.splitlines() if x] == block  # from step 1 to the last step: nothing cut
    sentence = section.split(":\n", 1)[0]
    assert html.unescape(" ".join(sentence.split())) in " ".join(html.unescape(text).split())
    assert "--public-key" not in "".join(_pre_blocks(text))  # unsigned: no owner's key to ask for


def test_an_audit_pack_page_shows_the_packs_procedure_and_its_segment(
    store: Path, tmp_path: Path, now: dt.datetime
) -> None:
    """A pack holds a ledger segment (not from line 1) and its own README: the page follows both."""
    pack = tmp_path / "pack"
    shutil.copytree(store, pack)
    lines = (pack / "ledger.jsonl").read_bytes().splitlines(keepends=True)
    (pack / "ledger.jsonl").write_bytes(b"".join(lines[2:]))
    window = {"from": "2026-01-01T00:00:00Z", "to": "2026-02-01T00:00:00Z", "to_exclusive": True}
    given = verify_store(pack)
    given.pack = {"window": window, "filters": {"principles": ["P5"], "controls": []}}
    text, _ = page_of(write_portal(pack, generated_at=now, verification=given))
    assert f"a segment: lines 3 to {len(lines)}" in text
    assert "2026-01-01T00:00:00Z to 2026-02-01T00:00:00Z (excluded) · only P5" in text
    (shown,) = [b for b in _pre_blocks(text) if "sha256sum" in b]
    assert "jq -r .segment.prev pack.json" in shown and "sha256sum -c --quiet SHA256SUMS" in shown
    assert "${KEY:-signatures/key-" in shown and "{{" not in shown  # the template's braces undone
    assert "evidentia verify . --public-key OWNER.pub" in html.unescape(text)
    assert "NOT intact" in text  # the chain no longer starts at genesis for verify_store


def test_overview_counts_each_finding_once(store: Path, tmp_path: Path, now: dt.datetime) -> None:
    coverage = build_coverage(store, now=now)
    unique = sum(len(a.findings) for a in coverage.artefacts if a.superseded_by is None)
    per_principle = sum(len(p.findings) for p in coverage.principles)
    assert per_principle > unique  # item-1 is filed under P5 and P8: summing principles counts it twice
    text, _ = page_of(write_portal(store, tmp_path, generated_at=now))
    line = text.split("Findings in current evidence", 1)[1].split("</li>", 1)[0]
    shown = sum(int(n) for n in re.findall(r"</span> (\d+)", line))
    assert shown == unique


def test_signed_store_says_what_the_shipped_key_proves(store: Path, tmp_path: Path, now: dt.datetime) -> None:
    copy = tmp_path / "signed"
    shutil.copytree(store, copy)
    private, public = generate_key_pair(tmp_path / "keys")
    with LocalStore(copy) as s:
        sign_store(s, private, now)
    text, _ = page_of(write_portal(copy, generated_at=now))
    words = " ".join(html.unescape(text).split())
    assert "integrity, not origin" in words and "not who signed it" in words
    assert "evidentia verify . --public-key OWNER.pub" in words
    owner = verify_store(copy, load_public_key(public))
    text, _ = page_of(write_portal(copy, generated_at=now, verification=owner))
    assert "proves origin" in text and "not who signed it" not in text


def test_sparse_store_with_long_and_non_ascii_names(tmp_path: Path) -> None:
    """No findings, one principle evidenced, names an auditor's file system and browser must survive."""
    root = tmp_path / "sparse"
    t0 = dt.datetime(2026, 3, 1, tzinfo=UTC)
    long_name = "quarterly-access-review-" + "x" * 150
    names = ["Prüfbericht \u2013 Modellkarte 数据集", long_name]  # an en dash, CJK, umlauts
    with LocalStore(root) as s:
        cat = load_builtin()
        file_catalog_if_changed(s, cat, t0)
        for i, name in enumerate(names):
            file_artefact(s, cat, Artefact.json(name, {"i": i}), ["P1"], prov(t0, instance="ünïcode-inst"))
        s.flush()
    index = write_portal(root, generated_at=t0 + dt.timedelta(hours=1))
    text, page = page_of(index)
    assert "Verified intact" in text
    gaps = text.split("Principles without evidence", 1)[1].split("</li>", 1)[0]
    assert re.findall(r">(P\d+)</a>", gaps) == [f"P{n}" for n in range(2, 14)]
    assert "Findings in current evidence</strong> (each artefact once): none" in text
    words = " ".join(page.text)
    assert names[0] in words and long_name in words and "ünïcode-inst" in words
    files = [h for h in page.hrefs() if not h.startswith("#")]
    assert len(set(files)) == 2 * len(names)  # each artefact and its metadata, wherever linked
    for href in files:
        assert (root / unquote(href)).is_file(), href
