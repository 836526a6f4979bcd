"""The order judge requests reach a server, for its prefix cache (vLLM's automatic prefix caching): on the stub
(bench/stub_server.py --prefix-window K), each request's prompt is compared with the last K prompts the stub
received, and the longest prefix it shares with one of them is counted. Reported per scenario:

- hit_rate: the share of requests that found a prefix longer than what every prompt of the task shares (the
  template's instructions, which any order keeps cached) among the last K;
- prefill_saved: the share of prompt characters beyond that common part that such a cache would not prefill again;
- prefill_saved_all: the share of all prompt characters it would not prefill again, the common part included (the
  figure to compare two templates by: a template that keeps the answers' frame code out of its instructions shares
  more of every prompt).

Scenarios (each `judgebench run --answers ...` against the stub, the real command line in a fresh process):
a battles task (4 models, all pairs, both orders: prompts showing one candidate's answer first should be adjacent);
a panel of two judges on one server (the same prompt twice); single grading and pairwise with one judge (an
item's requests already go together: no change expected); a rubric asked one criterion at a time (five criteria
per answer: its prompts share everything up to the criterion).

`--against DIR` runs the same scenarios with another source tree (e.g. a checkout of the commit before the prefix
order) and reports both, the ratios too. What this measures is the order, not a GPU: docs/performance.md says how
to check it with vLLM."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stub_server import prefix_stats, running_stub

ROOT = Path(__file__).resolve().parent.parent
WINDOW = 4  # prompts a simulated cache holds: small, as a server under load evicts quickly
MARGIN = 100  # characters beyond the common part that count as a hit: more than a question of this task
SCRIPT = "import sys; from judgebench.cli import main; sys.argv[0] = 'judgebench'; sys.exit(main())"


def _task(path: Path, kind: str, n_items: int, extra: list[str], prompt: str | None = None) -> Path:
    prompt = prompt or {"battles": "battle.jinja", "pairwise": "pairwise.jinja", "single": "single.jinja",
                        "rubric": "rubric.jinja"}[kind]
    lines = [f"name: {path.stem}", f"kind: {kind}", "judge:", f"  prompt: {prompt}", "  max_tokens: 32", *extra,
             "items:"]
    for i in range(n_items):
        lines += [f"  - id: q{i}", "    category: writing", "    turns:",
                  f"      - 'Question {i}: write two sentences about the number {i}, and why it matters.'"]
        if kind == "rubric":  # four criteria of the item's own, beside the task-wide one
            lines += ["    rubric:", *(f"      - {{text: 'Says something true about {i} ({c})', points: {c + 1}}}"
                                       for c in range(4))]
    if kind == "pairwise":
        lines += ["reference:", "  model: reference-model", "  answers:"]
        lines += [f"    q{i}: 'A reference answer about the number {i}: it is a number.'" for i in range(n_items)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _unframed(folder: Path) -> str:
    """battle.jinja without its frame code (a hash of both answers, in every marker): with it, two prompts differ
    from the first answer's marker on; without it, a prompt's beginning is the instructions, the question, then
    answer A, which the order can make adjacent (the bound on what the order can save). Written beside the task."""
    from judgebench.tasks.builtin import prompts_dir

    text = (Path(prompts_dir()) / "battle.jinja").read_text()
    text = text.replace(" {{ frame }}", "").replace("{{ frame }}", "")
    (folder / "battle_unframed.jinja").write_text(text)
    return "battle_unframed.jinja"


def _answers(path: Path, model: str, n_items: int) -> Path:
    with path.open("w") as out:
        for i in range(n_items):
            out.write(json.dumps({"question_id": f"q{i}", "model_id": model, "choices": [
                {"index": 0, "turns": [f"{model} answers question {i}: the number {i} is {'odd' if i % 2 else 'even'}."
                                       " It matters because every number does, in its own way."]}]}) + "\n")
    return path


def scenarios(work: Path, n_items: int) -> dict[str, list[str]]:
    """name -> `judgebench run` arguments (the judge added per stub)."""
    models = [_answers(work / f"m{k}.jsonl", f"model-{k}", n_items) for k in range(4)]
    five = ["  labels: [A>>B, A>B, A=B, B>A, B>>A]", "battles:", "  schedule: all-pairs"]
    battles = _task(work / "battles.yaml", "battles", n_items, five)
    unframed = _task(work / "battles_unframed.yaml", "battles", n_items, five, _unframed(work))
    single = _task(work / "single.yaml", "single", n_items, ["  scale: [1, 10]"])
    pairwise = _task(work / "pairwise.yaml", "pairwise", n_items, [])
    rubric = _task(work / "rubric.yaml", "rubric", n_items, ["  mode: per_criterion", "rubric:",
                                                              "  - {id: on-topic, text: 'Stays on topic', points: 1}"])
    return {
        "battles_4_models_all_pairs": ["--task", str(battles), *(a for m in models for a in ("--answers", str(m)))],
        "battles_4_models_all_pairs_unframed_prompt": ["--task", str(unframed),
                                                       *(a for m in models for a in ("--answers", str(m)))],
        "single_panel_of_2_on_one_server": ["--task", str(single), "--answers", str(models[0]), "--judge", "{stub}",
                                            "--judge", "{stub},t=0.7"],
        "single_one_judge": ["--task", str(single), "--answers", str(models[0])],
        "pairwise_one_judge_both_orders": ["--task", str(pairwise), "--answers", str(models[0])],
        "rubric_per_criterion_5_criteria": ["--task", str(rubric), "--answers", str(models[0])],
    }


def run_once(source: Path, args: list[str], url: str, out: Path) -> dict[str, Any]:
    judge = f"stub@{url}#json"
    filled = [a.replace("{stub}", judge) for a in args]
    if "--judge" not in filled:
        filled += ["--judge", judge]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(source)}
    done = subprocess.run([sys.executable, "-c", SCRIPT, "run", *filled, "--concurrency", "16", "--out", str(out),
                           "--no-progress"], env=env, cwd=source, capture_output=True, text=True)
    if done.returncode not in (0, 3):  # 3: judgments failed (the stub's reply is no pair verdict): the order stands
        raise RuntimeError(f"judgebench run exited {done.returncode}: {done.stderr.strip()[-500:]}")
    return prefix_stats(url, reset=True)


def figures(stats: dict[str, Any], common: int) -> dict[str, Any]:
    shared, lengths = stats["shared_chars"], stats["prompt_chars"]
    beyond = [max(0, s - common) for s in shared]
    hits = sum(1 for b in beyond if b >= MARGIN)
    room = sum(max(0, n - common) for n in lengths)
    total = sum(lengths)
    return {"requests": len(shared), "hit_rate": round(hits / len(shared), 4) if shared else None,
            "prefill_saved": round(sum(beyond) / room, 4) if room else None,
            # Every character a cache of K prompts would not prefill again, the common part included: the figure
            # to compare between templates, whose common parts differ.
            "prefill_saved_all": round(sum(shared) / total, 4) if total else None}


def main(against: Path | None = None, n_items: int = 150, window: int = WINDOW) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="jb-prefix-"))
    sources = {"this": ROOT, **({"against": against.resolve()} if against else {})}
    found: dict[str, dict[str, Any]] = {}
    with running_stub(prefix_window=window) as url:
        for name, args in scenarios(work, n_items).items():
            raw = {label: run_once(source, args, url, work / f"{name}-{label}") for label, source in sources.items()}
            # What every prompt of the task shares (the template's instructions): cached in any order.
            common = min(min(s["shared_chars"][1:]) for s in raw.values())
            found[name] = {label: figures(stats, common) for label, stats in raw.items()}
            found[name]["common_prefix_chars"] = common
            if against:
                this, other = found[name]["this"], found[name]["against"]
                for key in ("hit_rate", "prefill_saved", "prefill_saved_all"):
                    found[name][f"{key}_this_over_against"] = (round(this[key] / other[key], 2)
                                                               if other[key] and other[key] > 0.001 else None)
            print(json.dumps({name: found[name]}), flush=True)
    return {"window": window, "margin_chars": MARGIN, "n_items": n_items, "scenarios": found}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", type=Path, help="another source tree (e.g. the commit before the prefix order)")
    parser.add_argument("--items", type=int, default=150)
    parser.add_argument("--window", type=int, default=WINDOW)
    options = parser.parse_args()
    print(json.dumps(main(options.against, options.items, options.window), indent=2))
