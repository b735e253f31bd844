"""The study's pages: the experimenter's (create a study from foil runs and photos, its link,
export, analysis, delete a participant) and the participants' (consent, randomised trials),
reachable only under /p/<the study's key>."""

from __future__ import annotations

import html
import os
import secrets

import numpy as np
from fastapi import HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse, RedirectResponse

from ..runs import SNAPSHOT_DIR, list_snapshots, recorded_verb
from .study import ITEMS

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:900px}} img.stim{{width:320px;image-rendering:auto}}
fieldset{{border:0;margin:.4em 0}} label{{margin-right:.6em}}</style></head><body>{body}</body></html>"""
CONSENT = """<h1>A study of faces</h1>
<p>You will see {n} images of faces, some photographs, some made by a machine. For each, say how
human, how eerie and how attractive it looks to you (1 to 7){choice}. It takes about {minutes} minutes.</p>
<p>Your answers are stored with a random number, not your name, and used for research only. You may stop at any time;
ask the experimenter to delete your answers and they will be deleted.</p>
<form method="post" action="/p/{key}/consent"><button id="consent">I agree, start</button></form>"""


def _stimuli_from_runs(root: str, runs: list[str], photos: int, folder: str) -> list[dict]:
    """A face per snapshot of each foil run (seed 0, as the run's grids show it) and aligned photos."""
    import torch

    from ..adapters import load_gan
    from ..media import save_png, to_uint8
    from ..util import seed_z
    os.makedirs(folder, exist_ok=True)
    out = []
    for name in runs:
        run = os.path.join(root, name)
        if "/" in name or recorded_verb(run) != "foil":
            raise HTTPException(400, f"{name}: not a foil run here")
        rates = {}
        metrics = os.path.join(run, "metrics.csv")
        if os.path.isfile(metrics):
            import csv
            for r in csv.DictReader(open(metrics)):
                if r.get("face_rate"):
                    rates[int(r["iter"])] = float(r["face_rate"])
        for it, path in list_snapshots(os.path.join(run, SNAPSHOT_DIR), "iter").items():
            gan = load_gan(path, which="g")
            with torch.no_grad():
                img = to_uint8(gan.generate(seed_z([0], gan.z_dim)))[0]
            file = os.path.join(folder, f"{name}-{it:06d}.png")
            save_png(file, img)
            out.append({"kind": "snapshot", "path": file, "source": name, "iteration": it,
                        "likeness": rates.get(it, np.nan) if rates else float(it), "is_real": False})
    if photos:
        from ..detectors import real_faces
        for i, img in enumerate(real_faces()[-photos:]):
            from ..media import save_png
            file = os.path.join(folder, f"photo-{i:03d}.png")
            save_png(file, img)
            out.append({"kind": "photo", "path": file, "source": "CelebA", "iteration": None, "likeness": 1.0,
                        "is_real": True})
    return out


def add_routes(app, root: str, store) -> None:
    studies_dir = os.path.join(root, ".studio", "studies")

    # ---- the experimenter (behind the studio's token)

    @app.get("/study", response_class=HTMLResponse)
    def study_page():
        runs = [n for n in sorted(os.listdir(root)) if recorded_verb(os.path.join(root, n)) == "foil"]
        boxes = "".join(f"<label><input type='checkbox' name='runs' value='{html.escape(n)}'> {html.escape(n)}</label>"
                        for n in runs)
        rows = "".join(f"<li><b>{html.escape(s['name'])}</b>: participant link <a id='link-{s['id']}' "
                       f"href='/p/{s['key']}'>/p/{s['key']}</a>; {s['participants']} participants, {s['responses']} "
                       f"responses; <a href='/api/studies/{s['id']}/export.csv'>CSV</a>; "
                       f"<a href='/study/{s['id']}/analysis'>analysis</a></li>" for s in store.studies())
        body = (f"<p><a href='/'>runs</a></p><h1>the uncanny-valley study</h1><ul id='studies'>{rows}</ul>"
                f"<h2>new study</h2><form method='post' action='/api/studies'>name <input name='name' value='valley'>"
                f"<br>snapshots of: {boxes}<br>real photos <input name='photos' type='number' value='4'>"
                f"<br><label><input type='checkbox' name='real_or_fake' checked> real-or-fake choice</label>"
                f"<br><button id='create'>create</button></form>")
        return PAGE.format(title="study", body=body)

    @app.post("/api/studies")
    async def create_study(request: Request):
        form = await request.form()
        runs = [str(r) for r in form.getlist("runs")]
        try:
            photos = int(form.get("photos", 0))
        except ValueError:
            raise HTTPException(400, "photos: a number") from None
        if not runs and photos <= 0:
            raise HTTPException(400, "pick at least one foil run or some photos")
        if not 0 <= photos <= 200:
            raise HTTPException(400, "photos: 0 to 200")
        folder = os.path.join(studies_dir, secrets.token_hex(4))
        stimuli = _stimuli_from_runs(root, runs, photos, folder)
        sid, key = store.create(str(form.get("name", "study"))[:80], stimuli, bool(form.get("real_or_fake")))
        return RedirectResponse("/study", status_code=303)

    @app.get("/api/studies/{sid}/export.csv")
    def export(sid: int):
        return PlainTextResponse(store.export_csv(sid), media_type="text/csv")

    @app.post("/api/studies/{sid}/participants/{pid}/delete")
    def delete(sid: int, pid: int):
        return {"deleted_responses": store.delete_participant(pid)}

    @app.get("/study/{sid}/analysis", response_class=HTMLResponse)
    def analysis(sid: int):
        os.makedirs(studies_dir, exist_ok=True)
        a = store.plot(sid, os.path.join(studies_dir, f"analysis-{sid}.png"))
        return PAGE.format(title="analysis", body=f"<p><a href='/study'>study</a></p><img src='/study/{sid}/analysis.png'>"
                           f"<pre>{html.escape(str({k: v for k, v in a.items() if k != 'stimuli'}))}</pre>")

    @app.get("/study/{sid}/analysis.png")
    def analysis_png(sid: int):
        path = os.path.join(studies_dir, f"analysis-{sid}.png")
        if not os.path.isfile(path):
            raise HTTPException(404, "open the analysis page first")
        return FileResponse(path)

    # ---- participants (only their study, by key)

    def _study(key):
        st = store.study_by_key(key)
        if st is None:
            raise HTTPException(404, "no such study")
        return st

    def _me(request: Request, key: str):
        p = store.participant(request.cookies.get(f"p_{key}", ""))
        return p if p and p["study"] == _study(key)["id"] else None

    @app.get("/p/{key}", response_class=HTMLResponse)
    def consent(key: str):
        st = _study(key)
        n = len([1 for _ in store._q("select id from stimuli where study = ?", (st["id"],))])
        return PAGE.format(title="consent", body=CONSENT.format(
            n=n, key=key, minutes=max(1, n // 6), choice=", and whether it is a photograph" if st["real_or_fake"] else ""))

    @app.post("/p/{key}/consent")
    def consented(key: str):
        st = _study(key)
        _, token = store.join(st["id"])
        resp = RedirectResponse(f"/p/{key}/trial", status_code=303)
        resp.set_cookie(f"p_{key}", token, httponly=True, samesite="strict", path=f"/p/{key}")
        return resp

    @app.get("/p/{key}/trial", response_class=HTMLResponse)
    def trial(request: Request, key: str):
        me, st = _me(request, key), _study(key)
        if me is None:
            return RedirectResponse(f"/p/{key}", status_code=303)
        t = store.next_trial(me["id"])
        if t is None:
            return PAGE.format(title="thank you", body="<h1 id='done'>Thank you: that was the last image.</h1>")
        scales = "".join(f"<fieldset><b>{item}</b> " + "".join(
            f"<label><input type='radio' name='{item}' value='{v}' required> {v}</label>" for v in range(1, 8))
            + "</fieldset>" for item in ITEMS)
        choice = ("<p><button name='choice' value='real' id='real'>photograph</button> "
                  "<button name='choice' value='fake' id='fake'>made by a machine</button></p>") if st["real_or_fake"] \
            else "<p><button id='next'>next</button></p>"
        body = (f"<p>image {t['number']} of {t['of']}</p><img class='stim' src='/p/{key}/img/{t['id']}'>"
                f"<form method='post' action='/p/{key}/respond'><input type='hidden' name='stimulus' value='{t['id']}'>"
                f"<input type='hidden' name='shown' id='shown'>{scales}{choice}</form>"
                f"<script>document.getElementById('shown').value = Date.now();</script>")
        return PAGE.format(title="trial", body=body)

    @app.post("/p/{key}/respond")
    async def respond(request: Request, key: str):
        me = _me(request, key)
        if me is None:
            raise HTTPException(403, "consent first")
        form = await request.form()
        try:
            ratings = {item: int(form.get(item, "")) for item in ITEMS}
            stim = int(form.get("stimulus", ""))
            shown = form.get("shown")
            import time
            rt = int(time.time() * 1000 - float(shown)) if shown else None
            if store.stimulus(me["study"], stim) is None:
                raise ValueError("stimulus of another study")
            store.respond(me["id"], stim, ratings, form.get("choice") or None, rt)
        except ValueError as e:
            raise HTTPException(400, f"incomplete answer ({e})") from None
        return RedirectResponse(f"/p/{key}/trial", status_code=303)   # stored before the next trial is shown

    @app.get("/p/{key}/img/{stim}")
    def image(key: str, stim: int):
        s = store.stimulus(_study(key)["id"], stim)
        if s is None or not os.path.isfile(s["path"]):
            raise HTTPException(404, "no such image in this study")
        return FileResponse(s["path"])
