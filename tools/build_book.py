"""Execute the book's chapters in fresh kernels and render them to HTML, offline.

    python tools/build_book.py                  # every chapter of nbs/ -> _book/<chapter>.html + _book/index.html
                                                # (the contents; the front page, index.ipynb, is _book/intro.html)
    python tools/build_book.py --full           # also run cells flagged `#| slow`
    python tools/build_book.py --inplace NB...  # execute and save the outputs back into the notebooks
    python tools/build_book.py --no-execute     # render the committed outputs as they are (seconds, no kernel)

The HTML is read offline: MathJax (from jupyter-server-mathjax) is copied next to it, no script comes from the network,
prompts are hidden, show_doc's Quarto link attributes become plain links (dropped where they point to settings.ini's
`git_url` while this checkout has no `origin` remote at that address: the repository is not published), and every
widget view is replaced by a static rendering (`prunebook.robustness.slider` stores one with each slider; otherwise
the Output widget's saved state is used).

Cells are treated as `nbdev_test` treats them: `#| eval: false` never runs and `#| slow` runs only with --full.
Unlike `nbdev_test`, each chapter runs in its own Jupyter kernel, exactly as a reader's JupyterLab would run it.
"""
import argparse, configparser, copy, html, os, re, subprocess, sys, time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / "nbs"
SKIP_TAG = "skip-execution"   # nbclient leaves cells with this tag unexecuted
HIDE_TAG = "remove_cell"      # nbconvert's TagRemovePreprocessor drops these from the HTML
_DIRECTIVE = re.compile(r"^\s*#\s*\|\s*(.*?)\s*$")


def chapters(folder=NBS):
    "The book's chapters: every notebook in `folder` whose name does not start with `_` or `.`."
    return [p for p in sorted(Path(folder).glob("*.ipynb")) if not p.name.startswith(("_", "."))]


def directives(source):
    "Map each leading `#| name args` line of a cell's source to its arguments (nbdev's directive syntax)."
    out = {}
    for line in source.splitlines():
        m = _DIRECTIVE.match(line)
        if not m:
            if line.strip(): break
            continue
        name, *args = m.group(1).replace(":", ": ", 1).split()   # nbdev accepts `eval:false` too
        out[name.rstrip(":").lower()] = [a.lower() for a in args]
    return out


def should_run(source, full=False):
    "Whether the book executes a code cell: never `#| eval: false`; `#| slow` only when `full`."
    d = directives(source)
    if d.get("eval", [""])[:1] == ["false"]: return False
    if "slow" in d and not full: return False
    return True


def tag_cells(nb, full=False):
    "Tag the cells to skip (and, for the HTML, those marked `#| hide`); return the number skipped."
    skipped = 0
    for cell in nb.cells:
        if cell.cell_type != "code": continue
        tags = cell.metadata.setdefault("tags", [])
        if not should_run(cell.source, full): tags.append(SKIP_TAG); skipped += 1
        if "hide" in directives(cell.source): tags.append(HIDE_TAG)
    return skipped


def untag_cells(nb):
    for cell in nb.cells:
        tags = [t for t in cell.metadata.get("tags", []) if t not in (SKIP_TAG, HIDE_TAG)]
        if tags: cell.metadata["tags"] = tags
        else: cell.metadata.pop("tags", None)


def execute(path, full=False, timeout=None):
    "Run one notebook top to bottom in a fresh kernel, working directory nbs/. Returns (nb, seconds, error)."
    nb = nbformat.read(path, as_version=4)
    tag_cells(nb, full)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    start, error = time.time(), None
    try: client.execute()
    except CellExecutionError as e: error = str(e)
    return nb, time.time() - start, error


def title_and_summary(nb):
    "The chapter's `# Title` and its `> summary` line, from the first Markdown cell."
    for cell in nb.cells:
        if cell.cell_type != "markdown": continue
        title = re.search(r"^#\s+(.+)$", cell.source, re.M)
        summary = re.search(r"^>\s*(.+)$", cell.source, re.M)
        if title: return title.group(1).strip(), (summary.group(1).strip() if summary else "")
    return None, ""


MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe"   # the one combined config jupyter-server-mathjax ships (static/config/)
# jupyter-server-mathjax ships the HTML-CSS output with the STIX-Web fonts only: no CommonHTML, no TeX fonts. This runs
# before MathJax starts; the page sets data-mathjax="done" on <html> once the first typesetting is over.
MATHJAX_SETUP = """<script type="text/x-mathjax-config">
MathJax.Hub.Config({
  "HTML-CSS": {availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null,
               linebreaks: {automatic: true}},
  MathMenu: {showRenderer: false}, menuSettings: {zoom: "None"}
});
MathJax.Hub.Register.StartupHook("End", function () {
  MathJax.Hub.Queue(function () { document.documentElement.setAttribute("data-mathjax", "done"); });
});
</script>
"""
BOOK_CSS = """<style type="text/css">
body.jp-Notebook main { max-width: 60rem; margin: 0 auto; }
.prunebook-static { border-left: 3px solid #c8d3e0; padding-left: .7rem; margin: .3rem 0; }
.prunebook-static-caption { color: #5a6672; font-size: .85em; font-style: italic; margin: 0 0 .3rem 0; }
.prunebook-widget-missing { color: #a33; font-style: italic; }
a.prunebook-source { float: right; font-size: smaller; }
</style>
"""
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
STATIC_CLASS = "prunebook-static"          # the marker of a widget's static rendering (see prunebook.robustness.slider)
_ATTR_LINK = re.compile(r"\[([^\]\n]*)\]\(([^)\s]+)\)\{([^}\n]*)\}")   # Quarto's [text](url){attr="..."}
_ATTR = re.compile(r'([\w-]+)\s*=\s*"([^"]*)"')


def local_mathjax(out):
    "Copy the MathJax shipped by jupyter-server-mathjax next to the HTML (the book is read offline); its URL, or None."
    try: import jupyter_server_mathjax
    except ImportError: return None
    import shutil
    src = Path(jupyter_server_mathjax.__file__).parent / "static"
    if not (src / "config" / MATHJAX_CONFIG.split(",")[0]).with_suffix(".js").exists():
        raise RuntimeError(f"jupyter-server-mathjax no longer ships config/{MATHJAX_CONFIG.split(',')[0]}.js: "
                           f"pick one of {sorted(p.stem for p in (src / 'config').glob('*.js'))}")
    if not (out / "mathjax" / "MathJax.js").exists(): shutil.copytree(src, out / "mathjax", dirs_exist_ok=True)
    return f"mathjax/MathJax.js?config={MATHJAX_CONFIG}"


def _norm_url(url):
    url = url.strip().removesuffix("/").removesuffix(".git")
    m = re.match(r"^(?:ssh://)?git@([^:/]+)[:/](.+)$", url)
    return f"https://{m.group(1)}/{m.group(2)}" if m else url.replace("http://", "https://", 1)


def source_url_base(root=ROOT):
    """settings.ini's `git_url` and whether it is real: only if this checkout's `origin` remote points to it.
    Returns (git_url, published); show_doc's [source] links to an unpublished git_url are placeholders."""
    cfg = configparser.ConfigParser(); cfg.read(root / "settings.ini")
    git_url = cfg.get("DEFAULT", "git_url", fallback="").strip()
    try: origin = subprocess.run(["git", "-C", str(root), "remote", "get-url", "origin"], capture_output=True, text=True).stdout
    except OSError: origin = ""
    return git_url, bool(git_url and origin.strip() and _norm_url(origin) == _norm_url(git_url))


def fix_attr_links(md, placeholder=None):
    """Quarto's `[text](url){target="_blank" style="..."}` (show_doc's [source] link) as a plain HTML link, which any
    Markdown renders; links whose url starts with `placeholder` (an unpublished repository) are dropped."""
    def repl(m):
        text, url, attrs = m.groups()
        if placeholder and _norm_url(url).startswith(_norm_url(placeholder)): return ""
        a = dict(_ATTR.findall(attrs))
        extra = "".join(f' {k}="{html.escape(v)}"' for k, v in a.items() if k in ("target", "title"))
        if a.get("target") == "_blank": extra += ' rel="noopener"'
        return f'<a class="prunebook-source" href="{html.escape(url)}"{extra}>{html.escape(text)}</a>'
    return _ATTR_LINK.sub(repl, md)


def _text(v): return "".join(v) if isinstance(v, list) else str(v)


def output_html(o):
    "One saved output (nbformat dict) as static HTML: what a Jupyter front end would show for it, stderr left out."
    kind = o.get("output_type")
    if kind == "stream":
        return "" if o.get("name") == "stderr" else f"<pre>{html.escape(_text(o.get('text', '')))}</pre>"
    if kind == "error": return f"<pre>{html.escape(str(o.get('ename')))}: {html.escape(str(o.get('evalue')))}</pre>"
    data = o.get("data", {})
    if "text/html" in data: return _text(data["text/html"])
    if "image/svg+xml" in data: return _text(data["image/svg+xml"])
    for mime in ("image/png", "image/jpeg"):
        if mime in data: return f'<img src="data:{mime};base64,{_text(data[mime]).strip()}">'
    if "text/markdown" in data:
        from nbconvert.filters.markdown_mistune import markdown2html_mistune
        return markdown2html_mistune(_text(data["text/markdown"]))
    for mime in ("text/latex", "text/plain"):
        if mime in data: return f"<pre>{html.escape(_text(data[mime]))}</pre>"
    return ""


def widget_static_html(model_id, state):
    """A static rendering of a saved widget view: the outputs its Output widgets hold in the notebook's widget state,
    under a caption naming the controls' values (the values they had when the notebook was saved). None if none."""
    seen, todo, outputs, controls = set(), [model_id], [], []
    while todo:
        mid = todo.pop(0)
        if mid in seen or mid not in state: continue
        seen.add(mid)
        m = state[mid].get("state", {})
        if state[mid].get("model_name") == "OutputModel": outputs += m.get("outputs", [])
        elif "description" in m and ("_options_labels" in m or "value" in m):
            labels, i = m.get("_options_labels"), m.get("index")
            value = labels[i] if labels and isinstance(i, int) and 0 <= i < len(labels) else m.get("value")
            controls.append(f"{m.get('description') or 'value'}={value}")
        todo += [c[len("IPY_MODEL_"):] for c in m.get("children", []) if isinstance(c, str) and c.startswith("IPY_MODEL_")]
    if not outputs: return None
    caption = "static rendering" + (f" at {', '.join(controls)}" if controls else "") + " (run the notebook to move the slider)"
    return (f'<div class="{STATIC_CLASS}"><p class="{STATIC_CLASS}-caption">{html.escape(caption)}</p>'
            + "".join(output_html(o) for o in outputs) + "</div>")


def static_widgets(nb):
    """Replace every widget view in `nb` (in place) by its static rendering, and drop the widget state: the book is
    static, and nbconvert would otherwise load the widget manager from a CDN. Returns the number of widget views."""
    state = nb.metadata.pop("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    n = 0
    for cell in nb.cells:
        for o in cell.get("outputs", []) if cell.cell_type == "code" else []:
            data = o.get("data", {})
            if WIDGET_VIEW not in data: continue
            n += 1
            if STATIC_CLASS in _text(data.get("text/html", "")): o["data"] = {"text/html": data["text/html"]}
            else:
                page = widget_static_html(data[WIDGET_VIEW].get("model_id"), state)
                o["data"] = {"text/html": page or '<p class="prunebook-widget-missing">An interactive widget with no saved '
                             "static rendering: run the notebook in JupyterLab to use it.</p>"}
            o["metadata"] = {}
    return n


def to_html(nb, mathjax_url=None, placeholder=None):
    "The chapter as one offline HTML page (the notebook `nb` itself is not changed)."
    from nbconvert import HTMLExporter
    from traitlets.config import Config
    c = Config()
    c.TagRemovePreprocessor.remove_cell_tags = (HIDE_TAG,)
    c.TagRemovePreprocessor.enabled = True
    c.HTMLExporter.exclude_input_prompt = True    # execution counts are cleaned away: every prompt would read "In [ ]:"
    c.HTMLExporter.exclude_output_prompt = True
    if mathjax_url: c.HTMLExporter.mathjax_url = mathjax_url
    shown = copy.deepcopy(nb)
    static_widgets(shown)
    for cell in shown.cells:
        if cell.cell_type == "code":   # the directives are for nbdev, not for the reader
            cell.source = "\n".join(l for l in cell.source.splitlines() if not _DIRECTIVE.match(l)).strip("\n")
            for o in cell.get("outputs", []):
                if "text/markdown" in o.get("data", {}):
                    o["data"]["text/markdown"] = fix_attr_links(_text(o["data"]["text/markdown"]), placeholder)
        elif cell.cell_type == "markdown": cell.source = fix_attr_links(cell.source, placeholder)
    shown.cells = [c_ for c_ in shown.cells if c_.cell_type != "code" or c_.source.strip() or c_.get("outputs")]
    body, _ = HTMLExporter(config=c, template_name="lab").from_notebook_node(shown)
    # offline: require.js (unused by a static page) would come from a CDN
    body = re.sub(r'<script src="https?://[^"]*require[^"]*"></script>\s*', "", body)
    if mathjax_url: body = body.replace(f'<script src="{mathjax_url}">', MATHJAX_SETUP + f'<script src="{mathjax_url}">', 1)
    return body.replace("</head>", BOOK_CSS + "</head>", 1)


def page_name(stem):
    "A chapter's HTML file: `<stem>.html`, but the front page (index.ipynb) is `intro.html`: index.html is the contents."
    return "intro.html" if stem == "index" else f"{stem}.html"


def index_page(rows, full, executed=True):
    how = (lambda r: f"executed in {r['seconds']:.1f} s") if executed else (lambda r: "committed outputs")
    items = "\n".join(
        f'<li><a href="{html.escape(r["href"])}">{html.escape(r["title"])}</a>'
        f'{" <b>(FAILED)</b>" if r["error"] else ""}<br><span class="s">{html.escape(r["summary"])}</span>'
        f'<br><span class="t">{r["stem"]}.ipynb, {how(r)}</span></li>' for r in rows)
    if not executed: mode = "from the notebooks' committed outputs (not re-executed)"
    else: mode = "in full mode (slow cells included)" if full else "in fast mode (cells flagged slow skipped)"
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>prunebook</title>
<style>body{{font-family:sans-serif;max-width:50rem;margin:2rem auto;line-height:1.4}}li{{margin:.8rem 0}}
.s{{color:#333}}.t{{color:#777;font-size:.85em}}</style></head><body>
<h1>prunebook</h1><p>The {"executed " if executed else ""}book, built {time.strftime("%Y-%m-%d %H:%M")} {mode}.</p>
<ol>
{items}
</ol></body></html>"""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("notebooks", nargs="*", type=Path, help="notebooks to run (default: every chapter in nbs/)")
    ap.add_argument("--full", action="store_true", help="also run cells flagged `#| slow`")
    ap.add_argument("--inplace", action="store_true", help="save outputs into the notebooks instead of rendering HTML")
    ap.add_argument("--no-execute", dest="execute", action="store_false",
                    help="render the notebooks' committed outputs without running them (seconds; `make book EXECUTE=0`)")
    ap.add_argument("--out", type=Path, default=ROOT / "_book", help="output folder for the HTML (default _book/)")
    args = ap.parse_args(argv)
    if not args.execute and (args.inplace or args.full):
        ap.error("--no-execute renders the committed outputs: it cannot be combined with --inplace or --full")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    paths = [p.resolve() for p in args.notebooks] or sorted(chapters(), key=lambda p: p.stem != "index")   # the front page first
    mathjax = None
    if not args.inplace:
        args.out.mkdir(parents=True, exist_ok=True)
        mathjax = local_mathjax(args.out)
    git_url, published = source_url_base()
    placeholder = None if published else git_url
    rows, failed = [], []
    for path in paths:
        if args.execute:
            print(f"running {path.name} ...", flush=True)
            nb, seconds, error = execute(path, args.full)
            print(f"  {'FAILED' if error else 'ok'} in {seconds:.1f} s", flush=True)
        else:
            nb, seconds, error = nbformat.read(path, as_version=4), 0.0, None
            tag_cells(nb, full=True)   # only for `#| hide`: nothing runs
        if error: failed.append(path.name); print(error, file=sys.stderr)
        if args.inplace:
            if error: continue          # never overwrite a chapter with a half-run copy
            untag_cells(nb); nbformat.write(nb, path)
        else:
            (args.out / page_name(path.stem)).write_text(to_html(nb, mathjax, placeholder), encoding="utf-8")
            title, summary = title_and_summary(nb)
            rows.append(dict(href=page_name(path.stem), title=title or path.stem, summary=summary,
                             stem=path.stem, seconds=seconds, error=error))
    if not args.inplace:
        (args.out / "index.html").write_text(index_page(rows, args.full, args.execute), encoding="utf-8")
        print(f"wrote {args.out / 'index.html'} and {len(rows)} chapter pages")
    if failed: print("failed: " + ", ".join(failed), file=sys.stderr); return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
