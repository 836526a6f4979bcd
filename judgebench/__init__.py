"""judgebench: LLM-as-a-judge evaluation harness.

The public API is small: load results into pandas (``load``), load a task (``load_task``), run one
(``evaluate`` / ``aevaluate`` with a ``RunConfig``; judges from their spec with ``parse_judge``), and the
statistics in ``judgebench.stats``. Every error it raises is a ``JudgebenchError``.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .analysis.results import Results, load
from .errors import JudgebenchError
from .run.endpoints import parse_endpoint, parse_judge
from .run.evaluate import RunConfig, RunResult, aevaluate, evaluate
from .tasks import load_task

__all__ = ["JudgebenchError", "Results", "RunConfig", "RunResult", "__version__", "aevaluate", "evaluate", "load",
           "load_task", "parse_endpoint", "parse_judge"]
