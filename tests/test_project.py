"""The project's layout and tooling: the conventions every chapter and CI rely on."""
import os, re
from configparser import ConfigParser
from pathlib import Path

import nbformat
import pytest

import build_book

ROOT = Path(__file__).resolve().parents[1]
CFG = ConfigParser(delimiters=["="]); CFG.read(ROOT / "settings.ini"); CFG = CFG["DEFAULT"]


def test_design_card_layout():
    for p in ["settings.ini", "setup.py", "_quarto.yml", "nbs", "prunebook", "tests", "README.md", "Makefile", ".ci/run"]:
        assert (ROOT / p).exists(), p
    q = ROOT / "nbs" / "_quarto.yml"
    assert q.is_symlink() and os.readlink(q) == "../_quarto.yml", "nbs/_quarto.yml must be a relative symlink"
    assert q.read_text() == (ROOT / "_quarto.yml").read_text()


def test_nbdev_pins_and_flags():
    dev = CFG["dev_requirements"].split()
    for pin in ["nbdev==2.4.14", "fastcore<2", "execnb<0.2", "fastgit<0.1"]:
        assert pin in dev, pin
    assert "fastcore<2" in CFG["requirements"].split()
    assert not any(r == "torch" for r in CFG["requirements"].split()), "torch must carry a version bound"
    # nbdev-1 style `notest|slow` is accepted silently and does not skip slow cells
    assert CFG["tst_flags"].split() == ["notest", "slow"]


def test_every_chapter_exports_an_existing_module():
    for nb in build_book.chapters(ROOT / "nbs"):
        src = nbformat.read(nb, as_version=4)
        exp = [c.source for c in src.cells if c.cell_type == "code" and "default_exp" in build_book.directives(c.source)]
        for s in exp:
            mod = build_book.directives(s)["default_exp"][0]
            assert (ROOT / "prunebook" / f"{mod.replace('.', '/')}.py").exists(), f"{nb.name}: prunebook/{mod}.py missing"


def test_notebooks_are_clean():
    "nbdev_clean strips execution counts and metadata: committed notebooks carry none."
    for nb in sorted((ROOT / "nbs").glob("*.ipynb")):
        src = nbformat.read(nb, as_version=4)
        for c in src.cells:
            if c.cell_type == "code": assert c.execution_count is None, f"{nb.name} is not clean"


@pytest.mark.parametrize("src,full,expected", [
    ("x = 1", False, True),
    ("#| slow\nrun_sweep()", False, False),
    ("#| slow\nrun_sweep()", True, True),
    ("#|eval: false\ndownload()", True, False),
    ("#| eval:false\ndownload()", False, False),
    ("#| export\ndef f(): pass", False, True),
    ("x = 1\n#| slow", False, True),      # directives only count at the top of a cell
])
def test_book_cell_selection(src, full, expected):
    assert build_book.should_run(src, full) is expected


def test_book_tags_and_title():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Core\n> Surgery and accounting"),
        nbformat.v4.new_code_cell("#| hide\nimport torch"),
        nbformat.v4.new_code_cell("#| slow\nsweep()"),
        nbformat.v4.new_code_cell("1 + 1")])
    assert build_book.tag_cells(nb, full=False) == 1
    assert nb.cells[1].metadata.tags == [build_book.HIDE_TAG]
    assert nb.cells[2].metadata.tags == [build_book.SKIP_TAG]
    assert "tags" not in nb.cells[3].metadata or nb.cells[3].metadata.tags == []
    build_book.untag_cells(nb)
    assert all("tags" not in c.metadata for c in nb.cells)
    assert build_book.title_and_summary(nb) == ("Core", "Surgery and accounting")


def test_ci_calls_the_readme_test_command():
    readme, ci = (ROOT / "README.md").read_text(), (ROOT / ".ci/run").read_text()
    assert "make test" in readme and "make book" in readme
    assert re.search(r"^\s*make test\b", ci, re.M) or "make test" in ci


def test_book_html_hides_directives_and_hidden_cells():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Core\n> Surgery"),
        nbformat.v4.new_code_cell("#| hide\nSECRET_SETUP = 1"),
        nbformat.v4.new_code_cell("#| export\ndef visible_function(): pass")])
    build_book.tag_cells(nb)
    page = build_book.to_html(nb)
    assert "visible_function" in page
    assert "SECRET_SETUP" not in page and "#| export" not in page
    assert nb.cells[2].source.startswith("#| export")          # the notebook itself is not changed


def test_book_drops_cells_left_empty_by_directives():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("#| default_exp core"), nbformat.v4.new_code_cell("x = 41 + 1")])
    page = build_book.to_html(nb)
    assert "default_exp" not in page and "41" in page
    assert page.count('class="jp-Cell jp-CodeCell') == 1


def test_readme_and_index_open_with_the_one_call_example():
    "The README's first Python block is the three-line `prunebook.prune` example, it runs, and the front page starts with it."
    block = re.search(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    lines = [l for l in block.splitlines() if l.strip()]
    assert len(lines) == 3 and "prunebook.prune(" in lines[-1]
    ns = {}
    exec(block, ns)
    assert ns["report"].params_after < ns["report"].params_before and ns["report"].latency is not None
    index = nbformat.read(ROOT / "nbs" / "index.ipynb", as_version=4)
    first_code = next(c.source for c in index.cells if c.cell_type == "code")
    assert first_code.strip() == "\n".join(l.split("#")[0].rstrip() for l in lines)


def test_console_script_declared():
    assert CFG["console_scripts"].split() == ["prunebook=prunebook.cli:main"]
