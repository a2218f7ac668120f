"""The notebooks (notebooks/ktm_drl.ipynb, notebooks/world_model.ipynb): each in sync with
its jupytext script, and each runs top to bottom on this CPU at the tiny size
(KTMJAX_NOTEBOOK_SIZE=tiny)."""
import os

import jupytext
import nbformat
from nbclient import NotebookClient

import pytest

from tests.conftest import ROOT

NOTEBOOK = os.path.join(ROOT, "notebooks", "ktm_drl.ipynb")


def _executed(path: str, tmp_path, monkeypatch):
    """The notebook at `path`, run top to bottom at the tiny size, runs under tmp_path."""
    monkeypatch.setenv("KTMJAX_NOTEBOOK_SIZE", "tiny")
    monkeypatch.setenv("KTMJAX_NOTEBOOK_RUNS", str(tmp_path / "runs"))
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": ROOT}}).execute()
    return notebook


@pytest.mark.parametrize("name", ["ktm_drl", "world_model"])
def test_notebook_matches_its_script(name):
    script = jupytext.read(os.path.join(ROOT, "notebooks", f"{name}.py"))
    notebook = nbformat.read(os.path.join(ROOT, "notebooks", f"{name}.ipynb"), as_version=4)
    pairs = list(zip(script.cells, notebook.cells))
    assert len(script.cells) == len(notebook.cells)
    for a, b in pairs:
        assert (a.cell_type, a.source) == (b.cell_type, b.source), (a.source[:80], b.source[:80])


@pytest.mark.slow
def test_notebook_runs_on_cpu(tmp_path, monkeypatch):
    notebook = _executed(NOTEBOOK, tmp_path, monkeypatch)
    outputs = "".join(o.get("text", "") for cell in notebook.cells for o in cell.get("outputs", []))
    assert "JAX sees" in outputs and "mini benchmark on the CPU" in outputs
    shown = [o for cell in notebook.cells for o in cell.get("outputs", [])
             if o.get("output_type") == "display_data"]
    assert any("text/markdown" in o["data"] and "InvertedPendulum" in o["data"]["text/markdown"]
               for o in shown)                                        # the result table
    assert sum("image/png" in o["data"] for o in shown) >= 1          # the curves
    assert (tmp_path / "runs" / "mini-online" / "summary.json").is_file()


@pytest.mark.slow
def test_world_model_notebook_runs_on_cpu(tmp_path, monkeypatch):
    notebook = _executed(os.path.join(ROOT, "notebooks", "world_model.ipynb"), tmp_path,
                         monkeypatch)
    shown = [o for cell in notebook.cells for o in cell.get("outputs", [])
             if o.get("output_type") == "display_data"]
    tables = [o["data"]["text/markdown"] for o in shown if "text/markdown" in o["data"]]
    assert any("cpu-small distilled, alpha 0.45" in t and "cpu-small alone" in t
               and "CartpoleBalance" in t for t in tables), tables
    for name in ("large", "distilled", "alone"):
        assert (tmp_path / "runs" / f"world-model-{name}" / "summary.json").is_file()
