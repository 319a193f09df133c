"""The dashboard in a real browser: every page renders without an exception; a download, a query and a label click work.

The server is ``behaviorlab dashboard PROJECT --no-browser`` on a copy of the
``full_project`` fixture; the browser is Debian's Chromium
(``apt-get install chromium``) driven by the ``playwright`` package, headless
and without network features (no browser is ever downloaded).  Screenshots of
every page go to the test's temporary folder and, when the environment
variable ``BEHAVIORLAB_SCREENSHOTS`` names a folder, there too.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "dashboards"))
from _shared import PAGES  # noqa: E402
from serve import BROWSER_ARGS, running_dashboard  # noqa: E402

CHROMIUM = next(
    (
        p
        for p in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser"))
        if p and Path(p).is_file()
    ),
    None,
)
PAGE_TIMEOUT_MS = 60_000
#: The server's password (`behaviorlab dashboard` takes it from $BEHAVIORLAB_DASHBOARD_PASSWORD); pages get ?token=
TOKEN = "browser-test-password"
DONE = '[data-testid="stApp"][data-test-script-state="notRunning"]'

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium browser (/usr/bin/chromium; apt-get install chromium)"),
]


@pytest.fixture
def dashboard(full_project, tmp_path):
    """``(url, project copy)`` of a dashboard server on a copy of the full project, stopped afterwards."""
    project = tmp_path / "project"
    shutil.copytree(full_project, project)
    try:
        with running_dashboard(
            project, tmp_path / "server.log", env={"BEHAVIORLAB_PROJECT": str(project)}, password=TOKEN
        ) as (port, _):
            yield f"http://localhost:{port}", project
    except RuntimeError as err:
        pytest.fail(str(err))


@pytest.fixture
def browser_page(tmp_path):
    """A page of a headless Chromium with a fresh profile."""
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            tempfile.mkdtemp(prefix="profile_", dir=tmp_path),
            executable_path=CHROMIUM,
            headless=True,
            args=BROWSER_ARGS,
            viewport={"width": 1400, "height": 1000},
            accept_downloads=True,
        )
        try:
            yield context.new_page()
        finally:
            context.close()


def _screenshot(page, name: str, tmp_path: Path) -> None:
    folders = [tmp_path / "screenshots"]
    if os.environ.get("BEHAVIORLAB_SCREENSHOTS"):
        folders.append(Path(os.environ["BEHAVIORLAB_SCREENSHOTS"]))
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def _open(page, url: str, title: str) -> None:
    """Go to ``url`` (with the server's token) and wait until the page's title shows and its script has finished."""
    page.goto(f"{url}?token={TOKEN}")
    page.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=PAGE_TIMEOUT_MS)
    page.wait_for_selector(DONE, timeout=PAGE_TIMEOUT_MS)


def _exceptions(page) -> list[str]:
    return [box.inner_text() for box in page.locator('[data-testid="stException"]').all()]


def test_every_page_renders_and_downloads_queries_and_labeling_work(dashboard, browser_page, tmp_path):
    from behaviorlab.io.labeled_frames import load_labeled_frames
    from behaviorlab.labeling import edit as label_edit
    from behaviorlab.results.store import ResultsStore

    url, project = dashboard
    page = browser_page
    titles = [title for _, title, _ in PAGES]
    failures = {}
    for _, title, path in PAGES:
        _open(page, f"{url}/{path}", title)
        _screenshot(page, path, tmp_path)
        if errors := _exceptions(page):
            failures[path] = errors
        # app.py's navigation, not Streamlit's listing of the pages/ folder (which runs a page without app.py)
        menu = page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()
        if menu != titles:
            failures[path] = [f"the menu shows {menu}, not the app's pages {titles}"]
    assert not failures, f"pages that failed: {failures}"

    # Statistics: a download built when clicked (NWB, one file per session) and a bad query's error message
    _open(page, f"{url}/statistics", "Statistics")
    page.get_by_role("tab", name="Downloads").click()
    with page.expect_download(timeout=PAGE_TIMEOUT_MS) as download:
        page.get_by_role("button", name="NWB", exact=False).click()
    with zipfile.ZipFile(download.value.path()) as archive:
        assert sorted(archive.namelist()) == [
            f"nwb/{s}.nwb" for s in sorted(ResultsStore(project / "results").sessions)
        ]
    page.get_by_role("tab", name="SQL").click()
    sql = page.get_by_role("textbox", name="SQL")
    sql.fill("SELECT nonsense FROM nowhere")
    sql.press("Control+Enter")
    page.get_by_text("the query failed", exact=False).first.wait_for(timeout=PAGE_TIMEOUT_MS)
    assert not _exceptions(page)

    labels = project / "labeled_frames.labels.h5"
    before = load_labeled_frames(labels)
    frame = int(label_edit.frame_order(before)[0])  # the page opens on the first frame that needs labels
    _open(page, f"{url}/label", "Label")
    image = page.frame_locator('.st-key-label_image iframe, iframe[title*="image_coordinates"]').first.locator("img")
    image.wait_for(timeout=PAGE_TIMEOUT_MS)
    box = image.bounding_box()
    click = (round(box["width"] * 0.4), round(box["height"] * 0.6))
    image.click(position={"x": click[0], "y": click[1]})
    page.get_by_text("Saved", exact=False).first.wait_for(timeout=PAGE_TIMEOUT_MS)
    page.wait_for_selector(DONE, timeout=PAGE_TIMEOUT_MS)
    _screenshot(page, "label_after_click", tmp_path)
    assert not _exceptions(page)

    after = load_labeled_frames(labels)
    changed = np.argwhere(~np.isclose(before.keypoints, after.keypoints, equal_nan=True).all(axis=3))
    assert len(changed) == 1, changed.tolist()  # one keypoint of one individual
    assert changed[0][0] == frame
    height, width = before.images[frame].shape[:2]
    expected = label_edit.click_to_pixel(*click, (box["width"], box["height"]), (width, height))
    np.testing.assert_allclose(after.keypoints[tuple(changed[0])], expected, atol=1.0)


def test_without_the_token_no_page_shows_data(dashboard, browser_page, tmp_path):
    url, project = dashboard
    page = browser_page
    data = '[data-testid="stDataFrame"], [data-testid="stImage"], .js-plotly-plot, [data-testid="stSidebarNav"]'
    for token in (None, "not-the-token"):
        for _, _, path in PAGES:
            page.goto(f"{url}/{path}" + ("" if token is None else f"?token={token}"))
            page.get_by_text("shows its project only to its owner", exact=False).wait_for(timeout=PAGE_TIMEOUT_MS)
            page.wait_for_selector(DONE, timeout=PAGE_TIMEOUT_MS)
            assert page.locator(data).count() == 0, path
            assert str(project) not in page.content(), path
            assert not _exceptions(page)
        _screenshot(page, f"no_token_{token is not None}", tmp_path)

    # the password typed into the page opens it
    page.goto(f"{url}/overview")
    box = page.get_by_label("Token or password")
    box.wait_for(timeout=PAGE_TIMEOUT_MS)
    box.fill(TOKEN)
    page.get_by_role("button", name="Open").click()
    page.get_by_role("heading", name="Overview", exact=True).first.wait_for(timeout=PAGE_TIMEOUT_MS)
    # the rerun after "Open" draws the page's tables once the store is read: wait for them, not for a script state
    # that the run before the rerun may still show
    page.wait_for_selector('[data-testid="stDataFrame"]', timeout=PAGE_TIMEOUT_MS)
    page.wait_for_selector(DONE, timeout=PAGE_TIMEOUT_MS)
    assert not _exceptions(page)
