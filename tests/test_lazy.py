"""judgebench.lazy: a module stand-in that imports the module on the first use of one of its names."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from judgebench.lazy import on_first_use

ROOT = Path(__file__).resolve().parent.parent

# In a fresh interpreter: a stdlib module nothing else there imports (wave) is not imported by the stand-in, is
# imported by the first name asked for, and the stand-in then gives the module's own objects.
FIRST_USE = """
import json, sys
from judgebench.lazy import on_first_use
wave = on_first_use("wave")
before = "wave" in sys.modules
error = wave.Error
import wave as real
print(json.dumps([before, "wave" in sys.modules, error is real.Error, wave.open is real.open]))
"""


def test_the_module_is_imported_on_first_use_and_not_before() -> None:
    done = subprocess.run([sys.executable, "-c", FIRST_USE], cwd=ROOT, capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [False, True, True, True]


def test_a_name_the_module_lacks_is_an_attribute_error() -> None:
    json_module = on_first_use("json")
    assert json_module.dumps is json.dumps
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = json_module.no_such_name


# Eight threads ask for a name of a module not yet imported (pydoc, which imports a dozen more) at the same moment:
# each gets the module's own object, none a half-imported module's AttributeError.
AT_ONCE = """
import json, sys, threading
from judgebench.lazy import on_first_use
pydoc = on_first_use("pydoc")
barrier = threading.Barrier(8)
found = []
def use():
    barrier.wait()
    found.append(pydoc.render_doc)
threads = [threading.Thread(target=use) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
import pydoc as real
print(json.dumps([len(found), all(f is real.render_doc for f in found)]))
"""


def test_threads_that_use_it_at_once_all_get_the_module_objects() -> None:
    done = subprocess.run([sys.executable, "-c", AT_ONCE], cwd=ROOT, capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [8, True]


def test_a_module_that_cannot_be_imported_fails_on_first_use() -> None:
    missing = on_first_use("judgebench_no_such_module")
    with pytest.raises(ModuleNotFoundError):
        _ = missing.anything
