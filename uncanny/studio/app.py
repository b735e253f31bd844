"""The studio's FastAPI app: run folders as JSON and as pages, files from inside RUNS_DIR only."""

from __future__ import annotations

import dataclasses
import html
import json
import os
import secrets
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, StreamingResponse

from ..demo import DEMO
from ..errors import UncannyError
from ..foil import FoilConfig
from ..runs import SAMPLES_DIR, SNAPSHOT_DIR, list_snapshots, list_training_snapshots, recorded_verb

COOKIE = "uncanny_studio"
MAX_UPLOAD = 10 << 20          # bytes of one uploaded photo


def _store_upload(root: str, data: bytes, name: str) -> str:
    """Check an uploaded photo is an image (any common format, not a decompression bomb) and keep
    it as PNG in RUNS_DIR/.studio/uploads; UncannyError-free: HTTP 400 on anything else."""
    import io

    from PIL import Image

    from ..faces import load_image
    folder = os.path.join(root, ".studio", "uploads")
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".check-{secrets.token_hex(4)}")
    with open(tmp, "wb") as f:
        f.write(data)
    try:
        img = load_image(tmp)
    except UncannyError as e:
        raise HTTPException(400, "the upload is not a usable photo: " + str(e).split(": ", 1)[-1]) from None
    finally:
        os.unlink(tmp)
    path = os.path.join(folder, f"{secrets.token_hex(4)}-{''.join(c for c in name if c.isalnum())[:32] or 'photo'}.png")
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "PNG")
    with open(path, "wb") as f:
        f.write(buf.getvalue())
    return path


def _runs(root: str) -> list[dict]:
    out = []
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name)
        verb = recorded_verb(path) if os.path.isdir(path) else None
        if verb is not None:
            out.append({"name": name, "verb": verb})
    return out


def _read_json(path: str) -> dict:
    try:
        with open(path) as f:
            obj = json.load(f)
        return obj if isinstance(obj, dict) else {}
    except (OSError, ValueError):
        return {}


def _src(rel: str) -> str:
    """The URL of a file under RUNS_DIR, safe in an HTML attribute whatever the run is called."""
    return "/files/" + quote(rel)


def _script_json(obj) -> str:
    """JSON to embed in a <script>, with < > & escaped: a run folder may be named with markup."""
    return json.dumps(obj).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _float(v) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _read_csv(path: str) -> list[dict]:
    """A run's CSV table as rows ([] while it is not written yet)."""
    import csv
    try:
        with open(path, newline="") as f:
            return list(csv.DictReader(f))
    except OSError:
        return []


def _train_page(info: dict) -> str:
    done, target, rate = info["kimg"], info["target"], info["sec_per_kimg"]
    if done is None:
        progress = "<p>no training step logged yet</p>"
    else:
        progress = f"<p>step {html.escape(str(info['step']))}: <b>{done:.{1 if done >= 1 else 3}f}</b>"
        if target:
            progress += f" of {target:g} kimg ({100 * done / target:.0f}%)"
        if rate:
            progress += f"; {rate:.0f} s per kimg on average"
            if target and target > done:
                progress += f", about {(target - done) * rate / 3600:.1f} h of training left at that rate"
        progress += "</p>"
    changes = "".join(  # run.json's recipe_changes: {"step": N, field: [before, after], ...}
        f"<li>step {html.escape(str(c.get('step')))}: " + ", ".join(
            f"{html.escape(k)} {html.escape(json.dumps(v[0]))} &rarr; {html.escape(json.dumps(v[1]))}"
            for k, v in c.items() if k != "step" and isinstance(v, list) and len(v) == 2) + "</li>"
        for c in info["recipe_changes"] if isinstance(c, dict))
    grids = info["grids"]
    cfg = info["config"]
    return f"""<h1>training run {html.escape(info['name'])}</h1>{progress}
<p>continue it: <code>uncanny train {html.escape(str(cfg.get('data', 'DATA')))} --out {html.escape(str(cfg.get('out', 'RUN')))} --resume</code></p>
<input id="slider" type="range" min="0" max="{max(len(grids) - 1, 0)}" value="{max(len(grids) - 1, 0)}" style="width:100%">
<p>the fixed seeds at <span id="kimg"></span> kimg</p>
<img id="grid" alt="the fixed seeds' samples" style="width:640px;image-rendering:pixelated">
{f'<h2>curves</h2><img src="{_src(info["curves"])}" alt="training curves" style="max-width:100%">' if info['curves'] else ''}
{f'<h2>recipe changes</h2><ul>{changes}</ul>' if changes else ''}
<script>
const grids = {_script_json([{"kimg": g["kimg"], "src": _src(g["grid"])} for g in grids])};
const s = document.getElementById('slider');
function show() {{ const x = grids[s.value]; if (!x) return;
  document.getElementById('kimg').textContent = x.kimg.toFixed(1); document.getElementById('grid').src = x.src; }}
s.oninput = show; show();
</script>"""


def run_info(root: str, name: str) -> dict | None:
    """What a run page shows, from the run's own files (None: not a run under root)."""
    path = os.path.join(root, name)
    if "/" in name or name.startswith(".") or not os.path.isdir(path):
        return None
    verb = recorded_verb(path)
    if verb is None:
        return None
    rec = _read_json(os.path.join(path, "run.json"))
    info = {"name": name, "verb": verb, "config": rec.get("config", {})}
    if verb == "foil":
        snaps = list(list_snapshots(os.path.join(path, SNAPSHOT_DIR), "iter"))
        stages = {int(k): v for k, v in (rec.get("stages") or {}).items() if str(k).isdigit()}
        info.update(snapshots=[{"iter": it, "stage": stages.get(it, ""), "grid": f"{name}/grids/iter-{it:06d}.png"}
                               for it in snaps],
                    peak=rec.get("peak_uncanny"), stopped_early=rec.get("stopped_early"),
                    curves=f"{name}/curves.png", video=f"{name}/foil.mp4", timeline=f"{name}/timeline.png")
    elif verb == "project":
        summary = _read_json(os.path.join(path, "summary.json"))
        info["faces"] = [{"image": os.path.basename(f.get("image", "")),
                          "folder": os.path.basename(f.get("folder", "")),
                          "identifiable_at_step": f.get("identifiable_at_step"),
                          "video": f"{name}/{os.path.basename(f.get('folder', ''))}/search.mp4",
                          "identity": f"{name}/{os.path.basename(f.get('folder', ''))}/identity.png"}
                         for f in summary.get("faces", [])]
        info["finished"] = bool(summary)
    elif verb == "edit":
        info.update(strip=f"{name}/strip.png", sweep=f"{name}/sweep.gif", direction=rec.get("direction"),
                    method=rec.get("method"))
    elif verb == "detect":
        rows = _read_csv(os.path.join(path, "scores.csv"))
        info["images"] = [{"path": os.path.basename(r.get("path", "")), "fake_score": r.get("fake_score"),
                           "verdict": r.get("verdict"), "face_found": r.get("face_found"),
                           "map": f"{name}/maps/{os.path.splitext(os.path.basename(r.get('path', '')))[0]}.png"}
                          for r in rows]
    elif verb == "train":
        samples = os.path.join(path, SAMPLES_DIR)
        last = (_read_csv(os.path.join(path, "log.csv")) or [{}])[-1]
        info.update(grids=[{"kimg": n / 1000, "grid": f"{name}/{SAMPLES_DIR}/{os.path.basename(p)}"}   # in order shown
                           for n, p in list_training_snapshots(samples, "png").items()],
                    curves=f"{name}/curves.png" if os.path.isfile(os.path.join(path, "curves.png")) else None,
                    step=last.get("step"), kimg=_float(last.get("kimg")), sec_per_kimg=_float(last.get("sec_per_kimg")),
                    target=_float(info["config"].get("kimg")), recipe_changes=rec.get("recipe_changes") or [])
    elif verb == "animate":
        info.update(result=f"{name}/result.gif", side_by_side=f"{name}/side_by_side.mp4", status=rec.get("status"),
                    frames=rec.get("frames"), method=rec.get("config", {}).get("method"),
                    numbers={k: rec.get(k) for k in ("driving_faces_found", "result_faces_found", "landmark_error",
                                                     "still_error", "identity", "identity_mirror")})
    return info


def _animate_page(info: dict) -> str:
    n = info["numbers"]

    def fmt(v):
        return f"{v:.3f}" if isinstance(v, float) else html.escape(str(v))
    if info["status"] != "done":
        return f"<h1>animation {html.escape(info['name'])}</h1><p>not finished ({html.escape(str(info['status']))})</p>"
    return (f"<h1>animation {html.escape(info['name'])} ({html.escape(str(info['method']))})</h1>"
            f"<video src='{_src(info['side_by_side'])}' controls loop autoplay muted style='width:760px'></video>"
            f"<p>{fmt(info['frames'])} frames; a face in {fmt(n['driving_faces_found'])} driving frames and "
            f"{fmt(n['result_faces_found'])} results; landmark error {fmt(n['landmark_error'])} IOD (a still image "
            f"{fmt(n['still_error'])}); identity to the source {fmt(n['identity'])} (mirrored "
            f"{fmt(n['identity_mirror'])})</p><img src='{_src(info['result'])}' alt='the result'>")


def safe_file(root: str, rel: str) -> str | None:
    """The real path of `rel` if it is a file inside root (no '..', no absolute paths, no links out)."""
    real_root = os.path.realpath(root)
    full = os.path.realpath(os.path.join(real_root, rel))
    if os.path.commonpath([full, real_root]) != real_root or not os.path.isfile(full):
        return None
    return full


PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}} img,video{{max-width:100%}}
.stage{{font-weight:bold}} .peak{{color:#a020f0}} a{{color:#225}}</style></head><body>{body}</body></html>"""


LAUNCH = """<h2>launch</h2>
<form id="foil"><b>foil</b> name <input name="name" value="foil-studio" required>
 model <input name="model" value="@MODEL@"> iterations <input name="iters" type="number" value="@ITERS@">
 loss <select name="loss">@LOSSES@</select>
 lr <input name="lr" value="@LR@" size="7"> schedule <select name="lr_schedule">@SCHEDULES@</select>
 <button>start</button></form>
<form id="project" enctype="multipart/form-data"><b>project a photo</b> name <input name="name" value="me" required>
 photo <input name="photo" type="file" accept="image/*" required> steps <input name="steps" type="number" value="300">
 <button>start</button></form>
<p id="error" style="color:#b00"></p>
<h2>jobs</h2><div id="jobs"></div>
<script>
function watch(job) {
  let row = document.getElementById('job-' + job.id);
  if (!row) { row = document.createElement('div'); row.id = 'job-' + job.id; document.getElementById('jobs').appendChild(row); }
  const es = new EventSource('/api/jobs/' + job.id + '/events');
  es.onmessage = (ev) => { const s = JSON.parse(ev.data);
    row.textContent = '';
    const title = document.createElement('b'); title.textContent = s.name + ' (' + s.kind + ') '; row.appendChild(title);
    const bar = document.createElement('progress'); bar.max = 1; bar.value = s.progress; row.appendChild(bar);
    row.appendChild(document.createTextNode(' ' + s.state + ' ' + Math.round(100 * s.progress) + '% '));
    if (s.state === 'running') { const c = document.createElement('button'); c.textContent = 'cancel';
      c.onclick = () => cancelJob(s.id); row.appendChild(c); }
    if (s.state === 'done') { const a = document.createElement('a'); a.href = '/runs/' + s.name; a.textContent = 'open';
      row.appendChild(a); }
    const m = document.createElement('small'); m.textContent = ' ' + s.message; row.appendChild(m);
    if (s.state !== 'running') { es.close(); } };
}
function cancelJob(id) { fetch('/api/jobs/' + id + '/cancel', {method: 'POST'}); }
async function launched(r) { const j = await r.json();
  if (!r.ok) { document.getElementById('error').textContent = j.detail; return; }
  document.getElementById('error').textContent = ''; watch(j); }
document.getElementById('foil').onsubmit = async (e) => { e.preventDefault(); const f = new FormData(e.target);
  const options = {model: f.get('model'), iters: parseInt(f.get('iters')), loss: f.get('loss'), lr: parseFloat(f.get('lr')),
                   lr_schedule: f.get('lr_schedule')};
  launched(await fetch('/api/jobs/foil', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                           body: JSON.stringify({name: f.get('name'), options})})); };
document.getElementById('project').onsubmit = async (e) => { e.preventDefault();
  launched(await fetch('/api/jobs/project', {method: 'POST', body: new FormData(e.target)})); };
fetch('/api/jobs').then(r => r.json()).then(js => js.forEach(watch));
</script>"""


def _launch_form() -> str:
    """The launch forms, the foil form filled in with the demo's settings (one place for them)."""
    choices = {f.name: f.metadata["choices"] for f in dataclasses.fields(FoilConfig)}   # foil's own options

    def options(name):
        return "".join(f"<option{' selected' if x == DEMO[name] else ''}>{x}</option>" for x in choices[name])
    return (LAUNCH.replace("@MODEL@", html.escape(DEMO["model"])).replace("@ITERS@", str(DEMO["iters"]))
            .replace("@LOSSES@", options("loss")).replace("@LR@", f"{DEMO['lr']:g}")
            .replace("@SCHEDULES@", options("lr_schedule")))


def _foil_page(info: dict) -> str:
    snaps = info["snapshots"]
    data = _script_json([{**x, "src": _src(x["grid"])} for x in snaps])
    return f"""<h1>foil run {html.escape(info['name'])}</h1>
<p>suggested peak uncanny: <span class="peak">iteration {info['peak']}</span>
{('<br>stopped early: ' + html.escape(str(info['stopped_early']))) if info.get('stopped_early') else ''}</p>
<input id="slider" type="range" min="0" max="{max(len(snaps) - 1, 0)}" value="0" style="width:100%">
<p>iteration <span id="it"></span>: <span class="stage" id="stage"></span> <span class="peak" id="ispeak"></span></p>
<img id="grid" alt="grid of the fixed seeds" style="width:420px;image-rendering:pixelated">
<h2>curves</h2><img src="{_src(info['curves'])}" alt="curves">
<h2>the run as a film</h2><img src="{_src(info['video'][:-4] + '.gif')}" alt="the fixed seeds over the run"
 style="width:420px;image-rendering:pixelated"> <a href="{_src(info['video'])}">mp4</a>
<script>
const snaps = {data}; const peak = {_script_json(info['peak'])};
const s = document.getElementById('slider');
function show() {{ const x = snaps[s.value]; if (!x) return;
  document.getElementById('it').textContent = x.iter; document.getElementById('stage').textContent = x.stage;
  document.getElementById('ispeak').textContent = x.iter === peak ? '(suggested peak)' : '';
  document.getElementById('grid').src = x.src; }}
s.oninput = show; show();
</script>"""


def _project_page(info: dict) -> str:
    parts = [f"<h1>projection {html.escape(info['name'])}</h1>"]
    for f in info["faces"]:
        at = f["identifiable_at_step"]
        parts.append(f"<h2>{html.escape(f['image'])}</h2><p>identifiable (judged) "
                     f"{'from step ' + str(at) if at is not None else 'never'}</p>"
                     f"<img src='{_src(f['video'][:-4] + '.gif')}' alt='the search' style='width:520px'> "
                     f"<a href='{_src(f['video'])}'>mp4</a><br>"
                     f"<img src='{_src(f['identity'])}' alt='identity curve'>")
    return "".join(parts)


def create_app(runs_dir: str, token: str | None = None):
    """The app for RUNS_DIR; every request needs `token` (query ?token= once, then a cookie)."""
    root = os.path.realpath(runs_dir)
    token = token or secrets.token_urlsafe(16)
    app = FastAPI(title="uncanny studio", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.token, app.state.root = token, root

    @app.middleware("http")
    async def need_token(request: Request, call_next):
        if request.url.path.startswith("/p/"):     # participants reach only their study, by its key
            return await call_next(request)
        given = request.query_params.get("token")
        if given is not None and secrets.compare_digest(given, token):
            target = request.url.path
            resp = RedirectResponse(target, status_code=303)
            resp.set_cookie(COOKIE, token, httponly=True, samesite="strict")
            return resp
        if not secrets.compare_digest(request.cookies.get(COOKIE, ""), token):
            return JSONResponse({"error": "this studio needs the token printed when it started"}, status_code=401)
        return await call_next(request)

    from .jobs import Jobs
    jobs = Jobs(root)
    app.state.jobs = jobs
    from . import participants
    from .study import Store
    store = Store(os.path.join(jobs.dir, "..", "study.sqlite"))
    app.state.store = store
    participants.add_routes(app, root, store)

    @app.get("/api/runs")
    def api_runs():
        return _runs(root)

    @app.post("/api/jobs/foil")
    async def launch_foil(request: Request):
        body = await request.json()
        if not isinstance(body, dict) or not isinstance(body.get("options", {}), dict):
            raise HTTPException(400, "expected {\"name\": ..., \"options\": {...}}")
        try:
            job = jobs.launch("foil", body.get("options", {}), str(body.get("name", "")))
        except (UncannyError, TypeError) as e:
            raise HTTPException(400, str(e)) from None
        return jobs.status(job.id)

    @app.post("/api/jobs/project")
    async def launch_project(request: Request):
        form = await request.form()
        upload, name = form.get("photo"), str(form.get("name", ""))
        if upload is None or not hasattr(upload, "read"):
            raise HTTPException(400, "send the photo as the form field 'photo'")
        data = await upload.read(MAX_UPLOAD + 1)
        if len(data) > MAX_UPLOAD:
            raise HTTPException(413, f"the photo is over {MAX_UPLOAD >> 20} MB")
        path = _store_upload(root, data, name)
        try:
            steps = int(form.get("steps", 300))
            job = jobs.launch("project", {"images": [path], "steps": steps}, name)
        except (UncannyError, ValueError) as e:
            raise HTTPException(400, str(e)) from None
        return jobs.status(job.id)

    @app.get("/api/jobs")
    def list_jobs():
        return jobs.all()

    def _known_job(act, job_id: str):
        try:
            return act(job_id)
        except KeyError:
            raise HTTPException(404, "no such job") from None

    @app.get("/api/jobs/{job_id}")
    def job_status(job_id: str):
        return _known_job(jobs.status, job_id)

    @app.post("/api/jobs/{job_id}/cancel")
    def job_cancel(job_id: str):
        return _known_job(jobs.cancel, job_id)

    @app.get("/api/jobs/{job_id}/events")
    async def job_events(job_id: str):
        import asyncio
        if job_id not in jobs.jobs:
            raise HTTPException(404, "no such job")

        async def stream():
            while True:
                st = jobs.status(job_id)
                yield f"data: {json.dumps(st)}\n\n"
                if st["state"] != "running":
                    return
                await asyncio.sleep(0.5)
        return StreamingResponse(stream(), media_type="text/event-stream")

    @app.get("/api/runs/{name}")
    def api_run(name: str):
        info = run_info(root, name)
        if info is None:
            raise HTTPException(404, "no such run")
        return info

    @app.get("/files/{rel:path}")
    def files(rel: str):
        path = safe_file(root, rel)
        if path is None:
            raise HTTPException(404, "no such file in the runs folder")
        return FileResponse(path)

    @app.get("/", response_class=HTMLResponse)
    def index():
        items = "".join(f"<li><a href='/runs/{quote(r['name'], safe='')}'>{html.escape(r['name'])}</a> "
                        f"({html.escape(r['verb'])})</li>" for r in _runs(root))
        return PAGE.format(title="uncanny studio", body=f"<p><a href='/study'>the uncanny-valley study</a></p>"
                           f"<h1>runs in {html.escape(root)}</h1><ul id='runs'>{items}</ul>" + _launch_form())

    @app.get("/runs/{name}", response_class=HTMLResponse)
    def run_page(name: str):
        info = run_info(root, name)
        if info is None:
            raise HTTPException(404, "no such run")
        if info["verb"] == "foil":
            body = _foil_page(info)
        elif info["verb"] == "project":
            body = _project_page(info)
        elif info["verb"] == "edit":
            body = (f"<h1>edit {html.escape(name)}: {html.escape(str(info['direction']))} ({html.escape(str(info['method']))})"
                    f"</h1><img src='{_src(info['strip'])}' alt='strip'><br><img src='{_src(info['sweep'])}' alt='sweep'>")
        elif info["verb"] == "animate":
            body = _animate_page(info)
        elif info["verb"] == "train":
            body = _train_page(info)
        elif info["verb"] == "detect":
            body = f"<h1>detect {html.escape(name)}</h1>" + "".join(
                f"<p>{html.escape(r['path'])}: <b>{html.escape(str(r['verdict']))}</b> {html.escape(str(r['fake_score']))}"
                f"<br><img src='{_src(r['map'])}' alt='where it looks'></p>" for r in info["images"])
        else:
            body = (f"<h1>{html.escape(name)} ({html.escape(info['verb'])})</h1>"
                    f"<pre>{html.escape(json.dumps(info['config'], indent=1, default=str))}</pre>")
        return PAGE.format(title=html.escape(name), body="<p><a href='/'>all runs</a></p>" + body)

    return app


def serve(runs_dir: str, host: str = "127.0.0.1", port: int = 8000, token: str | None = None) -> None:
    """Run the studio until Ctrl-C; prints the address with its token."""
    import uvicorn
    app = create_app(runs_dir, token)
    print(f"uncanny studio: http://{host}:{port}/?token={app.state.token}  (runs in {app.state.root})", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
