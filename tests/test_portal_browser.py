"""The evidence portal in a real headless Chromium, opened from `file://` as an auditor would.

Driven by Playwright with the system's Chromium (Debian's `chromium` package): Playwright's own
browser download needs the network. Without either the tests skip, unless EVIDENTIA_REQUIRE_BROWSER
is set (CI sets it), when they fail instead. Screenshots go to tests/artifacts/portal/ (git-ignored).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from portal_support import INJECTION, POLICY_TEXT, build_store
from support import TESTS_DIR

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or fails under EVIDENTIA_REQUIRE_BROWSER)
    expect = None  # type: ignore[assignment]

from evidentia.report import build_coverage
from evidentia.report.portal import write_portal
from evidentia.store.verify import verify_store

SHOTS = TESTS_DIR / "artifacts" / "portal"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str | None:
    """EVIDENTIA_CHROMIUM names the browser; it must exist, or the browser counts as unavailable."""
    given = os.environ.get("EVIDENTIA_CHROMIUM")
    if given:
        return given if os.access(given, os.X_OK) else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _unavailable(why: str) -> None:
    if os.environ.get("EVIDENTIA_REQUIRE_BROWSER"):
        pytest.fail(f"EVIDENTIA_REQUIRE_BROWSER is set but {why}")
    pytest.skip(why)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - depends on the machine
        _unavailable("playwright is not installed (pip install playwright)")
    executable = _chromium()
    if executable is None:
        _unavailable(
            "no Chromium found (apt-get install chromium, or set EVIDENTIA_CHROMIUM to its path): "
            f"EVIDENTIA_CHROMIUM={os.environ.get('EVIDENTIA_CHROMIUM', '')!r}"
        )
    with sync_playwright() as p:
        # launch() starts from a fresh temporary profile each time
        b = p.chromium.launch(executable_path=executable, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.set_default_timeout(10_000)
    yield pg
    context.close()
    assert not errors, f"script errors in the page: {errors}"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A collected store with the portal written into it; the index.html path."""
    store = build_store(tmp_path_factory.mktemp("portal-browser"))
    moment = build_coverage(store).generated_at + dt.timedelta(seconds=1)
    return write_portal(store, generated_at=moment)


def shot(pg: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


def visible_rows(pg: Any) -> list[str]:
    return list(pg.locator("#artefact-table tbody tr:visible").all_inner_texts())


def test_principle_to_control_to_artefact_and_its_metadata(page: Any, site: Path) -> None:
    page.goto(site.as_uri())
    assert page.locator("h1").inner_text() == "Evidence portal"
    assert page.locator("#principles").is_hidden()  # tabs: one view at a time
    page.get_by_role("link", name="Principles", exact=True).click()
    page.locator("#principles table").first.get_by_role("link", name="P5", exact=True).click()
    principle = page.locator("#p-P5")
    expect(principle).to_be_visible()
    expect(principle).to_be_focused()  # where the link points, for keyboard and screen-reader users
    assert "fresh" in principle.locator("h3").inner_text()
    shot(page, "1-principle")
    principle.get_by_role("link", name="A.5.9", exact=True).click()
    control = page.locator("#c-iso27001-A-5-9")
    expect(control).to_be_visible()
    expect(page.locator("#principles")).to_be_hidden()
    shot(page, "2-control")
    control.locator("a.file", has_text="item-0").click()
    page.wait_for_url("**/*--item-0.json")
    assert '"content": "portal"' in page.locator("body").inner_text()
    page.go_back()
    page.locator("#c-iso27001-A-5-9 a.meta").first.click()
    page.wait_for_url("**/*.meta.json")
    assert '"sha256"' in page.locator("body").inner_text()


def test_search_and_filters_narrow_the_artefact_table(page: Any, site: Path) -> None:
    page.goto(site.as_uri() + "#artefacts")
    total = len(visible_rows(page))
    assert total == len(build_coverage(site.parent).artefacts) > 5
    page.select_option("#f-principle", "P11")
    rows = visible_rows(page)
    assert rows and all("changes" in r for r in rows)
    assert page.locator("#artefact-count").inner_text() == f"{len(rows)} of {total} artefacts match"
    page.get_by_role("button", name="Clear filters").click()
    expect(page.locator("#artefact-table tbody tr:visible")).to_have_count(total)
    page.fill("#f-q", "item-1")
    expect(page.locator("#artefact-count")).to_have_text(f"1 of {total} artefacts match")
    (row,) = visible_rows(page)
    assert "item-1" in row and "odd-item" in row
    page.fill("#f-q", "")
    page.check("#f-findings")
    rows = visible_rows(page)
    assert rows and all(("odd-item" in r) or ("assessment" in r) for r in rows)
    page.uncheck("#f-findings")
    page.select_option("#f-control", "soc2:CC9.2")  # vendor management: evidenced by P2, P3 and P7
    coverage = build_coverage(site.parent)
    mapped = {link.principle for link in coverage.control("soc2", "CC9.2").links}
    expected = [a for a in coverage.artefacts if mapped & set(a.principles)]
    rows = visible_rows(page)
    assert len(rows) == len(expected) < total
    assert any("vendor-register" in r for r in rows) and not any("item-0" in r for r in rows)
    shot(page, "3-filtered")
    # an instance's link in its own view opens the table filtered to it
    page.get_by_role("link", name="Instances", exact=True).click()
    page.locator("#instances").get_by_role("link", name="echo", exact=True).click()
    expect(page.locator("#artefact-table tbody tr:visible")).to_have_count(3)
    assert all("echo" in r for r in visible_rows(page))
    assert page.locator("#f-instance").input_value() == "echo"


def test_principles_view_filter(page: Any, site: Path) -> None:
    page.goto(site.as_uri() + "#principles")
    page.fill("#principles-filter", "supply chain")
    visible = page.locator("#principles article.principle:visible")
    assert visible.count() == 1 and visible.get_attribute("id") == "p-P7"


def test_keyboard_only_reaches_and_opens_an_artefact(page: Any, site: Path) -> None:
    page.goto(site.as_uri())
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Skip to content"
    for _ in range(12):  # through the skip link and the views to "Artefacts"
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.textContent") == "Artefacts":
            break
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "the focused link has no visible focus indicator"
    page.keyboard.press("Enter")
    expect(page.locator("#artefacts")).to_be_visible()
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.classList.contains('file')"):
            break
    else:
        pytest.fail("Tab never reached an artefact link")
    shot(page, "4-keyboard-focus")
    href = page.evaluate("() => document.activeElement.getAttribute('href')")
    name = href.rsplit("/", 1)[-1]
    if not name.endswith(".json"):
        # Chromium shows JSON and text in the tab but hands YAML and other types to the user as a
        # download: either way Enter on the focused link must deliver that exact file.
        with page.expect_download() as download:
            page.keyboard.press("Enter")
        assert download.value.suggested_filename == name
        return
    with page.expect_navigation():  # registered before the key press, so a fast load is not missed
        page.keyboard.press("Enter")
    assert page.url.endswith("/" + name), (page.url, href)
    assert page.locator("body").inner_text().strip()


def test_markup_in_evidence_is_shown_as_text_and_never_runs(page: Any, site: Path) -> None:
    page.goto(site.as_uri() + "#artefacts")
    page.fill("#f-q", "never been assessed")
    expect(page.locator("#artefact-count")).to_contain_text(" of ")
    (row,) = visible_rows(page)
    assert INJECTION in row  # the auditor sees the vendor's name exactly as the source gave it
    for view in ("#principles", "#instances", "#fw-soc2", "#overview"):
        page.goto(site.as_uri() + view)
    assert page.evaluate("() => typeof window.__pwned") == "undefined"
    assert page.locator("img").count() == 0


def test_readable_without_javascript(browser: Any, site: Path) -> None:
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1360, "height": 900})
    pg = context.new_page()
    pg.goto(site.as_uri())
    for view in (
        "#overview",
        "#principles",
        "#fw-iso27001",
        "#heatmap",
        "#instances",
        "#dates",
        "#artefacts",
    ):
        assert pg.locator(view).is_visible(), view
    assert pg.locator("#artefact-filters").is_hidden()  # filters need the script; the full table does not
    pg.goto(site.as_uri() + "#p-P1")
    pg.locator("#p-P1 a.file", has_text="ai-security-policy").first.click()
    pg.wait_for_url("**/*ai-security-policy.md")
    assert POLICY_TEXT.strip().splitlines()[0] in pg.locator("body").inner_text()
    context.close()


def test_zipped_sent_and_opened_elsewhere(page: Any, site: Path, tmp_path: Path) -> None:
    store = site.parent
    archive = tmp_path / "evidence.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(store.rglob("*")):
            if path.is_file() and ".evidentia" not in path.parts:
                zf.write(path, Path("evidence") / path.relative_to(store))
    elsewhere = tmp_path / "auditor" / "inbox"
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(elsewhere)
    unzipped = elsewhere / "evidence"
    assert verify_store(unzipped).ok
    page.goto((unzipped / "index.html").as_uri() + "#p-P1")
    assert "Verified intact" in page.locator("header").inner_text()
    page.locator("#p-P1 a.file", has_text="ai-security-policy").first.click()
    page.wait_for_url("**/*ai-security-policy.md")
    assert str(unzipped) in page.url.replace("%20", " ")
    assert "Every model is inventoried" in page.locator("body").inner_text()


def test_screenshots_of_each_view(page: Any, site: Path) -> None:
    """Screenshots for a person to look at; asserts only that every view renders with content."""
    for view in (
        "overview",
        "principles",
        "fw-iso27001",
        "fw-soc2",
        "heatmap",
        "instances",
        "dates",
        "artefacts",
    ):
        page.goto(site.as_uri() + f"#{view}")
        expect(page.locator(f"#{view} h2")).to_be_visible()
        shot(page, f"view-{view}")


def test_tampered_folder_on_a_narrow_screen(browser: Any, site: Path, tmp_path: Path) -> None:
    """A phone-width window: the NOT intact banner is the first thing seen, nothing overflows the
    page sideways (wide tables scroll in their own box), and the views stay one row of tabs."""
    copy = tmp_path / "evidence"
    shutil.copytree(site.parent, copy)
    victim = next(copy.glob("P*/policies/*ai-security-policy.md"))
    victim.write_text("edited after filing\n", encoding="utf-8")
    index = write_portal(copy)
    context = browser.new_context(viewport={"width": 400, "height": 800})
    pg = context.new_page()
    pg.goto(index.as_uri())
    banner = pg.locator("header .verdict")
    expect(banner).to_contain_text("NOT intact")
    box = banner.bounding_box()
    assert box is not None and box["y"] + box["height"] <= 800, "the verdict is below the first screen"
    nav = pg.locator("nav.views").bounding_box()
    assert nav is not None and nav["height"] < 60, "the view tabs wrap into several rows"
    for view in ("overview", "heatmap", "artefacts"):
        pg.goto(index.as_uri() + f"#{view}")
        width = pg.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 400, f"#{view} is {width}px wide on a 400px screen"
        shot(pg, f"narrow-{view}")
    pg.goto(index.as_uri() + "#verification")
    expect(pg.locator("ul.discrepancies")).to_contain_text(victim.name)
    context.close()
