"""A module imported on the first use of one of its names, for the heavy libraries (pandas) that modules on the
run's path use only in some of their functions: `judgebench run` imports those modules, and needs pandas only if
it reads a table. Each user writes, after its imports,

    if TYPE_CHECKING:
        import pandas as pd
    else:
        pd = on_first_use("pandas")

so that mypy checks every ``pd.`` as before. Not ``importlib.util.LazyLoader``: that puts a module that has not
run into ``sys.modules`` (where libraries that look for pandas there, and the tests that check what a command
loaded, take it for imported), and its first attribute access races with other threads before Python 3.12.3
(CPython gh-114763). Here the import is an ordinary ``import_module`` (its lock makes it safe from any thread), and
``sys.modules`` holds pandas only once it has run."""

from __future__ import annotations

import importlib
import types
from typing import Any


class _OnFirstUse(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        # Called only for names not in this object's __dict__: the first use imports the module and copies its
        # names here, so later uses cost what a real module's attribute costs.
        module = importlib.import_module(self.__name__)
        self.__dict__.update(vars(module))
        return getattr(module, name)


def on_first_use(name: str) -> types.ModuleType:
    """A stand-in for the module ``name`` that imports it when one of its attributes is first asked for."""
    return _OnFirstUse(name)


__all__ = ["on_first_use"]
