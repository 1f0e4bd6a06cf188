"""The docs cannot drift from the code: the README's Python example and the example notebook run."""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_readme_starts_with_the_two_setup_commands():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block, "README must start with a bash block holding the two setup commands"
    lines = [line for line in block.group(1).splitlines() if line.strip()]
    assert len(lines) == 2
    assert "kinmatch demo" in lines[0]
    assert "pytest" in lines[1]
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert lines[1] in ci, "the CI must run the README's test command verbatim"


def test_readme_python_example_runs(tmp_path, monkeypatch):
    text = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, "README must have a Python example"
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    assert len(namespace["candidates"]) > 0
    result, pair = namespace["result"], namespace["pair"]
    assert namespace["candidates"] is result.candidates
    # any pair, also one outside the resident's top K: its weight is the prior plus every comparison's
    assert pair.resident_id == namespace["first"] and len(pair.table) == len(result.settings.comparisons)
    assert pair.match_weight == pytest.approx(pair.prior_weight + pair.table["weight"].sum())
    assert namespace["fig"].axes and (tmp_path / "threshold.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_example_notebook_executes():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(REPO / "examples" / "demo.ipynb", as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(REPO)}})
    client.execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    html = [o for o in outputs if "text/html" in o.get("data", {})]
    assert html, "candidate tables should render as HTML in Jupyter"
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    # the charts: model, weights, threshold, a pair's waterfall, passes, completeness
    assert len(images) >= 6, f"the demo should show its charts as images, got {len(images)}"
