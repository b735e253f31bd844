"""Screenshots of every studio page for the README (docs/images/studio-*.png), taken in Debian's
chromium through Playwright against a studio serving copies of real runs.

    python scripts/studio_screenshots.py --foil runs/demo --project runs/project

The analysis page is shown with simulated answers (random ratings from 12 scripted participants,
said in its caption in the README): no people have taken the study yet.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import tempfile

import httpx
from playwright.sync_api import sync_playwright
from uncanny.studio import running

OUT = "docs/images"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--foil", default="runs/demo")
    ap.add_argument("--project", default="runs/project")
    a = ap.parse_args()
    root = tempfile.mkdtemp(prefix="uncanny-shots-")
    shutil.copytree(a.foil, os.path.join(root, "demo"), ignore=shutil.ignore_patterns(".lock", "frames"))
    shutil.copytree(a.project, os.path.join(root, "faces"), ignore=shutil.ignore_patterns(".lock"))
    with running(root) as url:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            page = b.new_page(viewport={"width": 1100, "height": 900})
            page.goto(url + "/?token=tk")
            page.screenshot(path=f"{OUT}/studio-index.png")
            page.goto(url + "/runs/demo")
            page.fill("#slider", str(page.evaluate("snaps.findIndex(x => x.iter === peak)")))   # the suggested peak
            page.dispatch_event("#slider", "input")
            page.wait_for_function("document.getElementById('grid').naturalWidth > 0")
            page.screenshot(path=f"{OUT}/studio-foil.png", full_page=True)
            page.goto(url + "/runs/faces")
            page.screenshot(path=f"{OUT}/studio-project.png", full_page=True)
            page.goto(url + "/study")
            page.check("input[value=demo]")
            page.fill("input[name=photos]", "4")
            page.click("#create")
            link = page.get_attribute("#studies a[id^=link-]", "href")
            key = link.rsplit("/", 1)[1]
            rng = random.Random(0)
            for _ in range(12):                        # simulated participants (see the docstring)
                with httpx.Client(base_url=url, timeout=60) as c:
                    r = c.post(f"/p/{key}/consent")
                    c.cookies.update(r.cookies)
                    r = c.get(f"/p/{key}/trial")
                    while "Thank you" not in r.text:
                        stim = re.search(r"name='stimulus' value='(\d+)'", r.text).group(1)
                        c.post(f"/p/{key}/respond", data={"stimulus": stim, "shown": "0",
                                                          "humanness": str(rng.randint(1, 7)),
                                                          "eeriness": str(rng.randint(1, 7)),
                                                          "attractiveness": str(rng.randint(1, 7)),
                                                          "choice": rng.choice(["real", "fake"])})
                        r = c.get(f"/p/{key}/trial")
            page.goto(url + "/study")
            page.screenshot(path=f"{OUT}/studio-study.png")
            person = b.new_context(viewport={"width": 900, "height": 800}).new_page()
            person.goto(url + link)
            person.screenshot(path=f"{OUT}/studio-consent.png")
            person.click("#consent")
            person.wait_for_selector("img.stim")
            person.screenshot(path=f"{OUT}/studio-trial.png", full_page=True)
            page.goto(url + "/study/1/analysis")
            page.screenshot(path=f"{OUT}/studio-analysis.png", full_page=True)
            b.close()
    print("wrote", ", ".join(f for f in sorted(os.listdir(OUT)) if f.startswith("studio-")))


if __name__ == "__main__":
    main()
