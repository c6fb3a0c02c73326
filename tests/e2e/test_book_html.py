"""The HTML book as a reader sees it, in a real browser: Debian's headless Chromium at /usr/bin/chromium (Playwright
drives it; it never downloads a browser). Without that Chromium the test FAILS, it does not skip: install it with
`apt-get install chromium` (`.ci/run` installs it before `make test-e2e`, which runs this file).

Every chapter is rendered from its committed outputs (`tools/build_book.py --no-execute`, seconds, nothing runs) into
a temporary folder and opened from file://, as a reader opens _book/. For each page, once MathJax has finished:
- the page asks for nothing from the network (the book is read offline; MathJax is copied next to it);
- every formula of the chapter's Markdown is typeset (MathJax 2, HTML-CSS output: `span.MathJax` nodes), no `$$` is left
  in the visible text, and there is no "Math Processing Error" nor any TeX error;
- every widget view of the notebook is shown as a static rendering: a `.prunebook-static` block whose caption reads
  "static rendering at <name>=<value>" and which holds the output (an image, a table or text); none is missing;
- no prompt ("In [ ]:") is shown, no `{target=` (Quarto's link attributes, from show_doc) is anywhere in the HTML, and
  no link points to settings.ini's `git_url` while that repository is not published (no `origin` remote at it).
A full-page screenshot of each chapter goes to _book/screenshots/<chapter>.png.
"""
import os, re
from pathlib import Path

import nbformat
import pytest

import build_book   # tests/conftest.py puts tools/ on sys.path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("PRUNEBOOK_CHROMIUM", "/usr/bin/chromium")
SHOTS = ROOT / "_book" / "screenshots"
CHAPTERS = build_book.chapters(ROOT / "nbs")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions"]
# math as the Markdown of a chapter writes it, once code (fenced blocks, `spans`) is taken out: $$display$$, $inline$
_CODE = re.compile(r"```.*?```|`[^`\n]*`", re.S)
_MATH = re.compile(r"\$\$.+?\$\$|(?<![\\$])\$(?!\s)[^$\n]+?(?<![\s\\])\$(?!\d)", re.S)


def formulas(nb):
    "How many formulas the chapter's Markdown holds: its Markdown cells and its Markdown outputs (show_doc's)."
    md = [c.source for c in nb.cells if c.cell_type == "markdown"]
    md += [build_book._text(o["data"]["text/markdown"]) for c in nb.cells if c.cell_type == "code"
           for o in c.outputs if "text/markdown" in o.get("data", {})]
    return sum(len(_MATH.findall(_CODE.sub("", m))) for m in md)


def widget_views(nb):
    return sum(build_book.WIDGET_VIEW in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    out = tmp_path_factory.mktemp("book")
    assert build_book.main(["--no-execute", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: this test needs Debian's chromium package "
                    "(apt-get update && apt-get install -y chromium); it never downloads a browser", pytrace=False)
    try: from playwright.sync_api import sync_playwright
    except ImportError: pytest.fail("playwright is a dev requirement: run `make setup`", pytrace=False)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def test_formula_count_reads_markdown_math():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
        "Cost $5 and $6, `a $x$ span`, $x_i$ and\n$$\\frac{a}{b}$$\n```\n$$no$$\n```")])
    assert formulas(nb) == 2


def test_show_doc_source_links():
    md = '---\n\n[source](https://github.com/o/r/blob/main/r/a.py#L3){target="_blank" style="float:right; font-size:smaller"}\n\n### f'
    kept = build_book.fix_attr_links(md)
    assert '<a class="prunebook-source" href="https://github.com/o/r/blob/main/r/a.py#L3" target="_blank" rel="noopener">source</a>' in kept
    assert "{target=" not in kept
    dropped = build_book.fix_attr_links(md, placeholder="https://github.com/o/r.git")
    assert "source" not in dropped and "{target=" not in dropped and "### f" in dropped


def test_widget_views_become_static():
    "A slider's own static rendering is kept; an older widget gets the outputs its saved Output state holds."
    view = lambda mid: {build_book.WIDGET_VIEW: {"model_id": mid, "version_major": 2, "version_minor": 0}, "text/plain": "interactive(...)"}
    own = '<div class="prunebook-static"><p class="prunebook-static-caption">static rendering at k=1</p><pre>1</pre></div>'
    cell = nbformat.v4.new_code_cell("w = slider(f, (1, 2), name='k')", outputs=[
        nbformat.v4.new_output("display_data", data={**view("a"), "text/html": own}),
        nbformat.v4.new_output("display_data", data=view("box")),
        nbformat.v4.new_output("display_data", data=view("gone"))])
    state = {"box": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_sl", "IPY_MODEL_out"]}},
             "sl": {"model_name": "SelectionSliderModel", "state": {"description": "k", "_options_labels": ["1", "2"], "index": 1}},
             "out": {"model_name": "OutputModel", "state": {"outputs": [{"output_type": "stream", "name": "stdout", "text": "two\n"}]}}}
    nb = nbformat.v4.new_notebook(cells=[cell], metadata={"widgets": {build_book.WIDGET_STATE: {"state": state}}})
    page = build_book.to_html(nb)
    assert build_book.WIDGET_VIEW in str(nb.cells[0].outputs[0].data)     # the notebook itself is not changed
    assert own in page and "static rendering at k=2" in page and "<pre>two\n</pre>" in page
    assert "prunebook-widget-missing" in page and "unpkg.com" not in page and "require.min.js" not in page
    assert 'class="jp-InputPrompt' not in page and "In&nbsp;[" not in page


def test_contents_page_links_every_chapter(book):
    page = (book / "index.html").read_text()
    for nb in CHAPTERS:
        name = build_book.page_name(nb.stem)
        assert f'href="{name}"' in page and (book / name).exists(), name


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_renders(book, browser, chapter):
    nb = nbformat.read(chapter, as_version=4)
    path = book / build_book.page_name(chapter.stem)
    source = path.read_text(encoding="utf-8")
    assert "{target=" not in source, "a Quarto link attribute (show_doc's [source] link) is left in the HTML"
    git_url, published = build_book.source_url_base()
    if not published: assert f'href="{git_url}' not in source, f"a link to the unpublished repository {git_url}"

    page = browser.new_page(viewport={"width": 1200, "height": 900})
    remote = []
    page.on("request", lambda r: remote.append(r.url) if r.url.split(":", 1)[0] in ("http", "https", "ws", "wss") else None)
    page.goto(path.as_uri())
    try: page.wait_for_function("document.documentElement.getAttribute('data-mathjax') === 'done'", timeout=90_000)
    except Exception: pytest.fail(f"{path.name}: MathJax did not load or finish typesetting (mathjax/ next to the page?)")
    page.evaluate("() => new Promise(done => MathJax.Hub.Queue(() => done(true)))")   # anything queued later, too
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{chapter.stem}.png"), full_page=True)
    seen = page.evaluate("""() => ({
        text: document.body.innerText,
        jax: MathJax.Hub.getAllJax().length,
        rendered: document.querySelectorAll('span.MathJax').length,
        errors: [...document.querySelectorAll('.MathJax_Error, .merror, .noError')].map(e => e.textContent.slice(0, 200)),
        prompts: document.querySelectorAll('.jp-InputPrompt, .jp-OutputPrompt').length,
        statics: [...document.querySelectorAll('.prunebook-static')].map(s => ({
            caption: (s.querySelector('.prunebook-static-caption') || {}).textContent || '',
            content: s.querySelectorAll('img, table, pre, svg').length})),
        missing: document.querySelectorAll('.prunebook-widget-missing').length})""")
    page.close()
    text = seen["text"]

    assert not remote, f"{path.name} asks the network for {remote[:5]}: the book must read offline"
    n = formulas(nb)
    assert seen["jax"] == n and seen["rendered"] == n, f"{path.name}: {n} formulas in the Markdown, {seen['jax']} typeset, {seen['rendered']} shown"
    assert "$$" not in text, f"{path.name}: raw $$ in the page: ...{text[max(0, text.find('$$') - 80):text.find('$$') + 80]}..."
    assert "Math Processing Error" not in text and not seen["errors"], f"{path.name}: math errors {seen['errors']}"

    views = widget_views(nb)
    assert seen["missing"] == 0 and len(seen["statics"]) == views, f"{path.name}: {views} widgets, static renderings {seen['statics']}"
    for s in seen["statics"]:
        assert re.match(r"static rendering at \w+=\S+", s["caption"]) and s["content"] > 0, f"{path.name}: empty static rendering {s}"

    assert seen["prompts"] == 0 and "In [ ]:" not in text and "Out[" not in text, f"{path.name}: prompts are shown"
    assert "{target=" not in text and "source{" not in text
