"""Execute the book's chapters in fresh kernels and render them to HTML, offline.

    python tools/build_book.py                  # every chapter of nbs/ -> _book/<chapter>.html + _book/index.html
    python tools/build_book.py --full           # also run cells flagged `#| slow`
    python tools/build_book.py --inplace NB...  # execute and save the outputs back into the notebooks

Cells are treated as `nbdev_test` treats them: `#| eval: false` never runs and `#| slow` runs only with --full.
Unlike `nbdev_test`, each chapter runs in its own Jupyter kernel, exactly as a reader's JupyterLab would run it.
"""
import argparse, copy, html, os, re, sys, time
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


def local_mathjax(out):
    "Copy the MathJax shipped by jupyter-server-mathjax next to the HTML (the book is read offline); its URL, or None."
    try: import jupyter_server_mathjax
    except ImportError: return None
    import shutil
    src = Path(jupyter_server_mathjax.__file__).parent / "static"
    if not (out / "mathjax" / "MathJax.js").exists(): shutil.copytree(src, out / "mathjax", dirs_exist_ok=True)
    return "mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe"


def to_html(nb, mathjax_url=None):
    from nbconvert import HTMLExporter
    from traitlets.config import Config
    c = Config()
    c.TagRemovePreprocessor.remove_cell_tags = (HIDE_TAG,)
    c.TagRemovePreprocessor.enabled = True
    if mathjax_url: c.HTMLExporter.mathjax_url = mathjax_url
    shown = copy.deepcopy(nb)
    for cell in shown.cells:   # the directives are for nbdev, not for the reader
        if cell.cell_type == "code":
            cell.source = "\n".join(l for l in cell.source.splitlines() if not _DIRECTIVE.match(l)).strip("\n")
    shown.cells = [c_ for c_ in shown.cells if c_.cell_type != "code" or c_.source.strip() or c_.get("outputs")]
    body, _ = HTMLExporter(config=c, template_name="lab").from_notebook_node(shown)
    return body


def index_page(rows, full):
    items = "\n".join(
        f'<li><a href="{html.escape(r["href"])}">{html.escape(r["title"])}</a>'
        f'{" <b>(FAILED)</b>" if r["error"] else ""}<br><span class="s">{html.escape(r["summary"])}</span>'
        f'<br><span class="t">{r["stem"]}.ipynb, executed in {r["seconds"]:.1f} s</span></li>' for r in rows)
    mode = "full (slow cells included)" if full else "fast (cells flagged slow skipped)"
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>prunebook</title>
<style>body{{font-family:sans-serif;max-width:50rem;margin:2rem auto;line-height:1.4}}li{{margin:.8rem 0}}
.s{{color:#333}}.t{{color:#777;font-size:.85em}}</style></head><body>
<h1>prunebook</h1><p>The executed book, built {time.strftime("%Y-%m-%d %H:%M")} in {mode} mode.</p>
<ol>
{items}
</ol></body></html>"""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("notebooks", nargs="*", type=Path, help="notebooks to run (default: every chapter in nbs/)")
    ap.add_argument("--full", action="store_true", help="also run cells flagged `#| slow`")
    ap.add_argument("--inplace", action="store_true", help="save outputs into the notebooks instead of rendering HTML")
    ap.add_argument("--out", type=Path, default=ROOT / "_book", help="output folder for the HTML (default _book/)")
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    paths = [p.resolve() for p in args.notebooks] or sorted(chapters(), key=lambda p: p.stem != "index")   # the front page first
    mathjax = None
    if not args.inplace:
        args.out.mkdir(parents=True, exist_ok=True)
        mathjax = local_mathjax(args.out)
    rows, failed = [], []
    for path in paths:
        print(f"running {path.name} ...", flush=True)
        nb, seconds, error = execute(path, args.full)
        print(f"  {'FAILED' if error else 'ok'} in {seconds:.1f} s", flush=True)
        if error: failed.append(path.name); print(error, file=sys.stderr)
        if args.inplace:
            if error: continue          # never overwrite a chapter with a half-run copy
            untag_cells(nb); nbformat.write(nb, path)
        else:
            (args.out / f"{path.stem}.html").write_text(to_html(nb, mathjax), encoding="utf-8")
            title, summary = title_and_summary(nb)
            rows.append(dict(href=f"{path.stem}.html", title=title or path.stem, summary=summary,
                             stem=path.stem, seconds=seconds, error=error))
    if not args.inplace:
        (args.out / "index.html").write_text(index_page(rows, args.full), encoding="utf-8")
        print(f"wrote {args.out / 'index.html'} and {len(rows)} chapter pages")
    if failed: print("failed: " + ", ".join(failed), file=sys.stderr); return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
