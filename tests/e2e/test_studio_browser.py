"""The studio in a real browser (Debian's chromium driven headless by Playwright): browse a foil
run with the snapshot slider, launch a job from the page and watch it finish."""

import os

import numpy as np
import pytest

from uncanny.cli import main
from uncanny.studio import running

CHROMIUM = "/usr/bin/chromium"
playwright = pytest.importorskip("playwright.sync_api")
if not os.path.exists(CHROMIUM):
    pytest.skip(f"no browser at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def studio(tiny_ckpt, tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    assert main(["foil", "--model", tiny_ckpt, "--out", str(root / "foil1"), "--iters", "4", "--snapshots", "0,2,4",
                 "--faces-every", "0", "--seeds", "0-3"]) == 0
    with running(str(root)) as url:
        yield url, str(root)


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium, headless; every `browser.new_page()` opens in a fresh context (no cookies)."""
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def _shot_is_a_page(path):
    from PIL import Image
    a = np.asarray(Image.open(path).convert("L")).astype(float)
    return a.std() > 5          # not a blank page


def test_browse_a_foil_run_with_the_slider(studio, browser, tmp_path):
    url, _ = studio
    page = browser.new_page()
    page.goto(url + "/runs/foil1")
    assert "needs the token" in page.content()          # no token, nothing
    page.goto(url + "/?token=tk")
    page.click("text=foil1")
    page.wait_for_selector("#slider")
    assert page.inner_text("#it") == "0"
    page.fill("#slider", "2")                           # drag to the last snapshot
    page.dispatch_event("#slider", "input")
    assert page.inner_text("#it") == "4" and page.inner_text("#stage") in ("divergence", "convergence", "collapse")
    page.wait_for_function("document.getElementById('grid').naturalWidth > 0")
    page.screenshot(path=str(tmp_path / "foil.png"), full_page=True)
    assert _shot_is_a_page(tmp_path / "foil.png")


def test_launch_a_job_from_the_page(studio, browser, tiny_ckpt, tmp_path):
    url, root = studio
    page = browser.new_page()
    page.goto(url + "/?token=tk")
    page.fill("#foil input[name=name]", "from-page")
    page.fill("#foil input[name=model]", tiny_ckpt)
    page.fill("#foil input[name=iters]", "4")
    page.click("#foil button")
    page.wait_for_selector("text=done", timeout=120_000)
    page.click("#jobs >> text=open")
    page.wait_for_selector("#slider")
    page.screenshot(path=str(tmp_path / "launched.png"), full_page=True)
    assert _shot_is_a_page(tmp_path / "launched.png")
    assert os.path.isfile(os.path.join(root, "from-page", "timeline.png"))


def test_a_whole_study_session_in_the_browser(studio, browser, tmp_path):
    url, root = studio
    page = browser.new_page()
    page.goto(url + "/?token=tk")
    page.click("text=the uncanny-valley study")
    page.check("input[value=foil1]")
    page.fill("input[name=photos]", "2")
    page.click("#create")
    link = page.get_attribute("#studies a[id^=link-]", "href")
    participant = browser.new_context().new_page()                 # no studio cookie
    participant.goto(url + link)
    participant.click("#consent")
    n = 0
    while participant.query_selector("#done") is None:
        participant.wait_for_selector("img.stim")
        for item in ("humanness", "eeriness", "attractiveness"):
            participant.check(f"input[name={item}][value='{1 + (n + len(item)) % 7}']")
        participant.click("#real" if n % 2 else "#fake")
        n += 1
    participant.screenshot(path=str(tmp_path / "done.png"))
    assert n == 5 and "Thank you" in participant.inner_text("#done")
    page.goto(url + "/study")
    assert "1 participants, 5 responses" in page.inner_text("#studies")
