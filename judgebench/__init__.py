"""judgebench: LLM-as-a-judge evaluation harness.

The public API is small: load results into pandas (``load``), load a task (``load_task``), run one
(``evaluate`` / ``aevaluate`` with a ``RunConfig``; judges from their spec with ``parse_judge``), and the
statistics in ``judgebench.stats``. Every error it raises is a ``JudgebenchError``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import JudgebenchError

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .analysis.results import Results, load
    from .clients.endpoints import parse_endpoint, parse_judge
    from .run.evaluate import RunConfig, RunResult, aevaluate, evaluate
    from .tasks import load_task

__all__ = ["JudgebenchError", "Results", "RunConfig", "RunResult", "__version__", "aevaluate", "evaluate", "load",
           "load_task", "parse_endpoint", "parse_judge"]

# Where each public name lives. They are imported on first use (PEP 562), so `import judgebench` and the
# command line's help load neither pandas nor scipy nor the HTTP clients.
_LAZY = {"Results": ".analysis.results", "load": ".analysis.results", "parse_endpoint": ".clients.endpoints",
         "parse_judge": ".clients.endpoints", "RunConfig": ".run.evaluate", "RunResult": ".run.evaluate",
         "aevaluate": ".run.evaluate", "evaluate": ".run.evaluate", "load_task": ".tasks"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
