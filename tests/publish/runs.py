"""A real judgebench run directory, made cheaply: the sample pairwise task answered and judged by the scripted
local server (tests/fakeserver.py), whose every reply is the given text."""

from __future__ import annotations

from pathlib import Path

from judgebench.run.evaluate import RunConfig, evaluate
from judgebench.tasks import load_task
from judgebench.types import Endpoint, Judge

from ..fakeserver import Script, fake_server

HOSTILE = '<script>document.title="pwned"</script><img src=x onerror="alert(1)"> A fine answer. [[A]]'


def fake_run(tmp_path: Path, reply: str = HOSTILE, model: str = "fake-model") -> Path:
    """The run directory of ``sample-pairwise`` where the candidate's answers and the judge's replies are all
    ``reply`` (it must name a verdict, [[A]], to parse)."""
    endpoint = Endpoint(provider="openai", name=model, model=model, base_url="http://unused/v1", concurrency=2)
    with fake_server(Script([("ok", reply)])) as url:
        served = Endpoint(**{**endpoint.__dict__, "base_url": url})
        config = RunConfig(model=served, judges=(Judge("fake-judge", served),), out=tmp_path / "results",
                           cache_path=tmp_path / "cache.sqlite", progress=False, n_bootstrap=50)
        result = evaluate(load_task("sample-pairwise"), config)
    return result.run_dir
