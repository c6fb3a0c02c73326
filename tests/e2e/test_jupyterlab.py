"""The chapters run in a real JupyterLab, driven by a real headless Chromium (Playwright, Debian's /usr/bin/chromium).

For every chapter: open it, restart the kernel and run all cells, wait until nothing is running, save, and fail if any
cell produced an error output. The notebooks are served from a scratch copy of nbs/ (so autosave never touches the
committed notebooks) in which cells flagged `slow` or `eval: false` are replaced by a comment: the fast book settings.
Screenshots of every chapter go to _e2e/screenshots/. Run with `make test-e2e`; with ATEN_CPU_CAPABILITY set, the
kernels inherit it and each chapter first checks that they use those CPU kernels.
"""
import json, os, re, secrets, socket, subprocess, sys, time, urllib.request
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
import build_book  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("PRUNEBOOK_CHROMIUM", "/usr/bin/chromium")
SHOTS = ROOT / "_e2e" / "screenshots"
# `ATEN_CPU_CAPABILITY=default` (or avx2) makes every kernel use other CPU kernels than this machine's best: the
# chapters then run as on another CPU (`.ci/run` does this, so CI checks that the book holds on another machine)
CAPABILITY = os.environ.get("ATEN_CPU_CAPABILITY", "")
CHAPTERS = [p.name for p in build_book.chapters(ROOT / "nbs")]
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                  "--disable-default-apps", "--disable-extensions"]

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is a dev requirement: run `make test-e2e`")
if not Path(CHROMIUM).exists():
    pytest.fail(f"no Chromium at {CHROMIUM}: install Debian's chromium package (the e2e test never downloads a browser)", pytrace=False)


def fast_copy(src: Path, dst: Path):
    "Copy the chapters, replacing cells the fast book skips (`slow`, `eval: false`) by a comment."
    dst.mkdir(parents=True, exist_ok=True)
    for nb_path in build_book.chapters(src):
        nb = nbformat.read(nb_path, as_version=4)
        if CAPABILITY:   # prove that the kernels really run on the simulated CPU's kernels
            nb.cells.insert(0, nbformat.v4.new_code_cell(
                f"import torch; assert torch.backends.cpu.get_cpu_capability() == {CAPABILITY.upper()!r}, torch.backends.cpu.get_cpu_capability()"))
        for c in nb.cells:
            if c.cell_type == "code" and not build_book.should_run(c.source, full=False):
                c.source = "# (skipped in the fast end-to-end run: flagged slow or eval: false)"
            if c.cell_type == "code": c.outputs = []; c.execution_count = None
        nbformat.write(nb, dst / nb_path.name)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    work = tmp_path_factory.mktemp("lab")
    fast_copy(ROOT / "nbs", work)
    port, token = free_port(), secrets.token_hex(16)
    settings = work / ".lab-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env = dict(os.environ, OMP_NUM_THREADS="1", JUPYTER_CONFIG_DIR=str(work / ".jupyter-config"),
               JUPYTERLAB_SETTINGS_DIR=str(work / ".lab-settings"))
    root = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    proc = subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}", *root,
                             f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}", "--ServerApp.disable_check_xsrf=False",
                             "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
                            cwd=work, env=env, stdout=open(work / "lab.log", "w"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(120):
        if proc.poll() is not None: break
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                if r.status == 200: break
        except Exception: time.sleep(1)
    else:
        proc.terminate(); pytest.fail("JupyterLab did not start:\n" + (work / "lab.log").read_text()[-3000:])
    yield dict(base=base, token=token, work=work)
    proc.terminate()
    try: proc.wait(20)
    except subprocess.TimeoutExpired: proc.kill()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM,
                                                   headless=True, args=CHROMIUM_FLAGS, viewport={"width": 1400, "height": 1000})
        yield ctx
        ctx.close()


PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"
PROMPTS_JS = """() => { const t = [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputArea-prompt')].map(e => e.textContent);
                        return {busy: t.filter(x => x.includes('*')).length, first_done: t.length > 0 && /[0-9]/.test(t[0]), cells: t.length}; }"""


def run_all(page, lab, name, timeout=600):
    "Open notebook `name`, restart the kernel and run all cells, wait, save; return the saved notebook's error outputs."
    ws = "e2e-" + re.sub(r"[^a-z0-9]", "-", Path(name).stem.lower())     # a fresh workspace: only this notebook is open
    page.goto(f"{lab['base']}/lab/workspaces/{ws}/tree/{name}?reset&token={lab['token']}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
    start = time.time()
    for attempt in range(4):       # a restart that races with the kernel's start-up can drop the queued cells: check and retry
        page.locator(".lm-MenuBar-itemLabel", has_text="Kernel").click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile("Restart Kernel and Run All Cells")).click()
        page.locator(".jp-Dialog-button.jp-mod-accept").click()
        time.sleep(3)
        stuck_since, last, stalled = None, None, False
        while True:
            p = page.evaluate(PROMPTS_JS)
            status = page.locator(".jp-Notebook-ExecutionIndicator").first.get_attribute("data-status")
            if p["busy"] == 0 and status == "idle": break
            # no progress for 45 s while the kernel is not busy (queued [*] cells on an idle kernel, or a kernel status
            # stuck in 'restarting'/'unknown' after a restart that raced the kernel's start-up): reload and retry
            state = (status, p["busy"], p["cells"])
            if status != "busy" and state == last:
                stuck_since = stuck_since or time.time()
                if time.time() - stuck_since > 45:
                    print(f"{name}: no progress (kernel status {status!r}, {p['busy']} cells queued), reloading and retrying")
                    stalled = True; break
            else: stuck_since = None
            last = state
            if time.time() - start > timeout:
                raise TimeoutError(f"{name}: still running after {timeout} s (kernel status {status!r}, {p['busy']} of {p['cells']} cells queued)")
            if os.environ.get("E2E_DEBUG"): print(name, status, p)
            time.sleep(2)
        if stalled:
            page.reload()
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
            continue
        p = page.evaluate(PROMPTS_JS)
        if p["first_done"] and p["busy"] == 0: break
        time.sleep(3)
    else:
        raise AssertionError(f"{name}: the cells never ran")
    time.sleep(1)
    page.locator(".lm-MenuBar-itemLabel", has_text="File").click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Save Notebook$")).click()
    for _ in range(60):                          # wait until the tab is no longer marked dirty and the file is written
        if page.locator(".lm-TabBar-tab.jp-mod-current.jp-mod-dirty").count() == 0: break
        time.sleep(0.5)
    time.sleep(1)
    nb = nbformat.read(lab["work"] / name, as_version=4)
    errors = [(i, o.get("ename"), o.get("evalue")) for i, c in enumerate(nb.cells) if c.cell_type == "code"
              for o in c.get("outputs", []) if o.get("output_type") == "error"]
    code = [c for c in nb.cells if c.cell_type == "code"]
    ran = sum(1 for c in code if c.execution_count)
    first_error = next((i for i, c in enumerate(code) if any(o.get("output_type") == "error" for o in c.get("outputs", []))), None)
    expected = len(code) if first_error is None else first_error + 1
    assert sum(1 for c in code[:expected] if c.execution_count) == expected, f"{name}: only {ran} of {expected} cells ran"
    return errors, ran, time.time() - start


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_runs_in_jupyterlab(lab, browser, name):
    page = browser.new_page()
    try:
        errors, ran, seconds = run_all(page, lab, name)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{Path(name).stem}.png"))
        print(f"{name}: {ran} cells ran in {seconds:.0f} s; screenshot {SHOTS / (Path(name).stem + '.png')}")
        assert ran > 0, f"{name}: no cell ran"
        assert not errors, f"{name}: cells raised errors: {errors}"
        if name == "10_paoding.ipynb": move_slider_and_check(page)
    finally:
        page.close()


def move_slider_and_check(page):
    "Move the pruning-ratio slider of the Paoding chapter and check that the displayed output changes."
    box = page.locator(f"{PANEL} .widget-interact").last
    box.scroll_into_view_if_needed()
    before = box.inner_text()
    handle = box.locator(".noUi-handle").first
    handle.focus()
    after = before
    for key in ("ArrowLeft", "ArrowRight"):      # whichever way the slider can move from where the notebook left it
        for _ in range(8): handle.press(key)
        deadline = time.time() + 90
        while box.inner_text() == before and time.time() < deadline: time.sleep(1)
        after = box.inner_text()
        if after != before: break
    page.screenshot(path=str(SHOTS / "10_paoding_slider_moved.png"))
    assert after != before, "moving the ratio slider did not change the displayed output"
    assert re.search(r"ratio\s*\n?\s*[0-9.]+", after), after[:200]


def test_a_broken_cell_fails_the_check(lab, browser):
    "The checker must catch an error: a throwaway notebook with a failing cell."
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("1 / 0"),
                                         nbformat.v4.new_code_cell("y = 2")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, lab["work"] / "e2e_broken.ipynb")
    page = browser.new_page()
    try:
        errors, ran, _ = run_all(page, lab, "e2e_broken.ipynb", timeout=120)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "e2e_broken.png"))
    finally:
        page.close()
    assert errors and errors[0][1] == "ZeroDivisionError", errors
