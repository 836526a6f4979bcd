"""The example notebook runs from top to bottom (executed with nbclient, outputs discarded)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..conftest import ROOT


def test_example_notebook_executes(shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nbformat = pytest.importorskip("nbformat", reason="pip install nbformat nbclient ipykernel (dev extra)")
    nbclient = pytest.importorskip("nbclient", reason="pip install nbclient (dev extra)")
    monkeypatch.setenv("JUDGEBENCH_SHARED_DATA", str(shared_data))
    notebook = nbformat.read(ROOT / "docs" / "example.ipynb", as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(ROOT / "docs")}})
    client.execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the plots rendered
