"""Task YAML -> Task. ``include:`` inheritance, unknown fields with "did you mean", errors with file:line."""

from __future__ import annotations

import contextlib
import gc
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..errors import DataError, TaskError, closest
from ..formats import alpaca_eval, arena_hard, fastchat, healthbench, scalerlab, wildbench
from ..formats.conversations import PRIOR_TURNS
from ..formats.identity import canonical_benchmark
from ..judging.fastchat_prompts import read_prompts
from ..judging.kinds import KINDS
from ..judging.prompts import TemplateMissing, load_template
from ..judging.rubric_styles import STYLES, PointsStyle
from ..types import BattlesSpec, Criterion, Item, JudgeSpec, RubricSpec, Task
from .builtin import prompts_dir, task_names, tasks_dir
from .fetch import allowed_dirs, allowing_paths, confined, resolve_data
from .rubric import RUBRIC, not_rubric, read_criteria, rubric_items, rubric_spec
from .yaml_cache import load_yaml
from .yamlsrc import SourcedDict, SourcedList, merge

TOP_FIELDS = {"name", "benchmark", "protocol", "kind", "description", "include", "judge", "generation", "items",
              "source", "reference", "battles", RUBRIC}
JUDGE_FIELDS = {"prompt", "reference_prompt", "reference_categories", "scale", "labels", "max_tokens", "on_empty",
                "fastchat_prompts", "files", "options", "temperature", "mode", "style"}
SAMPLING_FIELDS = {"max_tokens", "temperature", "top_p", "seed", "stop", "frequency_penalty", "presence_penalty"}
# ``by_category``: sampling parameters that replace the task's own for the items of a category (FastChat's
# per-category temperatures).
GENERATION_FIELDS = SAMPLING_FIELDS | {"by_category"}
ITEM_FIELDS = {"id", "category", "turns", "reference", RUBRIC}
SOURCE_FIELDS = {"format", "path", "url", "sha256", "references", "categories", "prior_turns"}
DATA_FIELDS = {"path", "url", "sha256"}
REFERENCE_FIELDS = {"model", "answers", "source"}
BATTLES_FIELDS = {"schedule", "baseline", "budget", "cover", "seed"}
SCHEDULES = ("all-pairs", "baseline", "sampled")
TEMPLATE_SUFFIXES = (".jinja", ".j2", ".jinja2")
# A protocol's name is part of every judgment's identity and of file names on the site: a plain slug.
PROTOCOL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def _positive_int(mapping: SourcedDict, key: str, default: int) -> int:
    value = mapping.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise TaskError(f"{mapping.where(key)}: {key} must be a whole number above 0, not {value!r}")
    return value


def _number(mapping: SourcedDict, key: str, default: float, *, low: float, high: float) -> float:
    value = mapping.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise TaskError(f"{mapping.where(key)}: {key} must be a number from {low} to {high}, not {value!r}")
    return float(value)


def _check_generation(generation: SourcedDict) -> None:
    """Sampling parameters go to the server as they are: a wrong type would fail every request, so it is a task
    error here, with its line."""
    if "max_tokens" in generation:
        _positive_int(generation, "max_tokens", 256)
    for key, (low, high) in {"temperature": (0.0, 2.0), "top_p": (0.0, 1.0), "frequency_penalty": (-2.0, 2.0),
                             "presence_penalty": (-2.0, 2.0)}.items():
        if key in generation:
            _number(generation, key, 0.0, low=low, high=high)
    if "seed" in generation and (isinstance(generation["seed"], bool) or not isinstance(generation["seed"], int)):
        raise TaskError(f"{generation.where('seed')}: seed must be a whole number, not {generation['seed']!r}")
    stop = generation.get("stop")
    if stop is not None and not (isinstance(stop, str) or (isinstance(stop, list)
                                                            and all(isinstance(s, str) for s in stop))):
        raise TaskError(f"{generation.where('stop')}: stop must be a string or a list of strings")


def _by_category(generation: SourcedDict, items: list[Item]) -> tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]:
    """``generation.by_category``: category -> sampling parameters that replace the task's own for its items. A
    category none of the items has is an error (a misspelt one would silently sample at the default)."""
    if "by_category" not in generation:
        return ()
    raw = _mapping(generation, "by_category", "generation.by_category")
    categories = sorted({item.category for item in items})
    found = []
    for category in raw:
        if str(category) not in categories:
            hint = closest(str(category), categories)
            suggestion = f"did you mean {hint!r}?" if hint else f"the task's categories: {', '.join(categories)}"
            raise TaskError(f"{raw.where(category)}: no item has the category {category!r}; {suggestion}")
        params = raw[category]
        if not isinstance(params, SourcedDict):
            raise TaskError(f"{raw.where(category)}: generation.by_category.{category} must be a mapping of sampling "
                            "parameters, e.g. {temperature: 0.0}")
        _check_fields(params, SAMPLING_FIELDS, f"generation.by_category.{category}")
        _check_generation(params)
        found.append((str(category), tuple(sorted((str(k), v) for k, v in params.items()))))
    return tuple(sorted(found))


def _check_fields(mapping: SourcedDict, allowed: set[str], what: str) -> None:
    for key in mapping:
        if key not in allowed:
            hint = closest(str(key), sorted(allowed))
            suggestion = f"; did you mean {hint!r}?" if hint else f"; known fields: {', '.join(sorted(allowed))}"
            raise TaskError(f"{mapping.where(key)}: unknown field {key!r} in {what}{suggestion}")


def _mapping(parent: SourcedDict, key: str, what: str) -> SourcedDict:
    value = parent.get(key, SourcedDict())
    if not isinstance(value, SourcedDict):
        raise TaskError(f"{parent.where(key)}: {what} must be a mapping")
    return value


def _str_list(value: Any, where: str, what: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
        raise TaskError(f"{where}: {what} must be a string or a list of strings")
    return tuple(str(v) for v in value)


def find_task(name_or_path: str) -> Path:
    """A path to a task file, or a built-in task's name ("did you mean" when unknown)."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.exists():
            raise TaskError(f"{path}: task file not found")
        return path
    candidate = tasks_dir() / f"{name_or_path}.yaml"
    if candidate.exists():
        return candidate
    known = task_names()
    hint = closest(name_or_path, known)
    suggestion = f"; did you mean {hint!r}?" if hint else ""
    raise TaskError(f"unknown task {name_or_path!r}{suggestion} (built-in tasks: {', '.join(known)})")


def _load_with_includes(path: Path, seen: tuple[Path, ...] = ()) -> SourcedDict:
    path = path.resolve()
    if path in seen:
        raise TaskError(f"{path}: include cycle: {' -> '.join(str(p) for p in (*seen, path))}")
    data = load_yaml(path)
    _check_fields(data, TOP_FIELDS, "the task")
    if "items" in data and "source" in data:
        # One file giving both: the items would be judged and the source never read. (A file that includes one
        # with a source may give its own items instead: that is what including it for its settings means.)
        raise TaskError(f"{data.where('source')}: the task gives both 'items' (at {data.where('items')}) and a "
                        "'source': keep one (the items are written in the file, the source reads them from data)")
    for section, allowed in (("judge", JUDGE_FIELDS), ("generation", GENERATION_FIELDS),
                             ("source", SOURCE_FIELDS), ("reference", REFERENCE_FIELDS),
                             ("battles", BATTLES_FIELDS)):
        if section in data:
            _check_fields(_mapping(data, section, section), allowed, section)
    if "include" not in data:
        return data
    where = data.where("include")
    include = data.pop("include")
    if not isinstance(include, str):
        raise TaskError(f"{where}: include must be a file name")
    parent_path = _include_path(path, include, where)
    if not parent_path.exists():
        raise TaskError(f"{data.where('include')}: included task {include!r} not found next to {path.name}")
    merged: SourcedDict = merge(_load_with_includes(parent_path, (*seen, path)), data)
    return merged


def _within(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def _include_path(task: Path, include: str, where: str) -> Path:
    """An included task is a file in the including task's folder (or below it), or a built-in task: task files
    are shared, so one must not read whatever a path points at on the machine."""
    for folder in (task.parent, tasks_dir()):
        candidate = folder / include
        if candidate.exists():
            if not _within(candidate, folder) or candidate.suffix not in (".yaml", ".yml"):
                raise TaskError(f"{where}: include {include!r} is refused: an included task must be a .yaml file "
                                f"in {folder} (or a built-in task)")
            return candidate
    return task.parent / include


def _data_path(spec: SourcedDict, task_dir: Path) -> Path:
    _check_fields(spec, DATA_FIELDS | {"format", "references", "categories", "prior_turns"}, "a data source")
    local = spec.get("path")
    return resolve_data(
        path=confined(task_dir, local, spec.where("path")) if local is not None else None,
        url=spec.get("url"),
        sha256=str(spec["sha256"]) if spec.get("sha256") is not None else None,
        where=spec.where("path" if local else "url"),
    )


def _inline_items(raw: Any, where: str, style: PointsStyle | None = None) -> list[Item]:
    """The task's ``items:``; ``style``: a rubric task's (each item may carry its own ``rubric:``), else None."""
    if not isinstance(raw, SourcedList):
        raise TaskError(f"{where}: items must be a list")
    items = []
    for entry, origin in zip(raw, raw.item_origins, strict=True):
        if not isinstance(entry, SourcedDict):
            raise TaskError(f"{origin}: each item must be a mapping with id, category and turns")
        _check_fields(entry, ITEM_FIELDS, "an item")
        for required in ("id", "turns"):
            if required not in entry:
                raise TaskError(f"{origin}: item is missing {required!r}")
        items.append(
            Item(
                id=str(entry["id"]),
                category=str(entry.get("category", "general")),
                turns=_turns(entry["turns"], entry.where("turns")),
                reference=_str_list(entry["reference"], entry.where("reference"), "reference")
                if "reference" in entry else (),
                source=origin,
                criteria=_own_criteria(entry, style),
            )
        )
    return items


def _own_criteria(entry: SourcedDict, style: PointsStyle | None) -> tuple[Criterion, ...]:
    if RUBRIC not in entry:
        return ()
    if style is None:
        raise TaskError(f"{entry.where(RUBRIC)}: an item's rubric belongs to a task of kind 'rubric'")
    return read_criteria(entry[RUBRIC], entry.where(RUBRIC), style, "item")


def _turns(value: Any, where: str) -> tuple[str, ...]:
    """An item's turns: a list of the user's messages, even when there is one (a bare string is most likely a
    mistake for a one-turn list, and is refused rather than guessed)."""
    if not isinstance(value, list) or not value or not all(isinstance(v, (str, int, float)) for v in value):
        raise TaskError(f"{where}: turns must be a list of the user's messages (strings), e.g. turns: [\"Write a "
                        f"haiku.\"], not {str(value)[:80]!r}")
    return tuple(str(v) for v in value)


def _fastchat_items(path: Path, source: SourcedDict, task_dir: Path) -> list[Item]:
    items = fastchat.questions(path)
    if "references" in source:
        refs_spec = source["references"]
        if not isinstance(refs_spec, SourcedDict):
            raise TaskError(f"{source.where('references')}: references must be a mapping with path or url")
        refs = fastchat.answers(_data_path(refs_spec, task_dir))
        items = [Item(i.id, i.category, i.turns, refs.get(i.id, i.reference), i.source) for i in items]
    return items


# How each format a task file's ``source: {format: ...}`` may name is read into items.
SOURCE_READERS: dict[str, Callable[[Path, SourcedDict, Path], list[Item]]] = {
    "fastchat": _fastchat_items,
    "alpaca_eval": lambda path, _source, _dir: alpaca_eval.items(path),
    "arena_hard": lambda path, source, _dir: _of_categories(arena_hard.questions(path), source),
    # JudgeBench's (ScalerLab's) labelled pairs: each pair's question, with response_A as the reference answer
    # (``reference.source`` the same file) and response_B the candidate's (``--answers`` the same file).
    "scalerlab_judgebench": lambda path, source, _dir: _of_categories(scalerlab.items(path), source),
    # Rubric benchmarks: each item comes with its own criteria (a task of kind rubric; see _source_criteria).
    "healthbench": lambda path, source, _dir: _of_categories(healthbench.items(path, _prior(source)), source),
    "wildbench": lambda path, source, _dir: _of_categories(wildbench.items(path, _prior(source)), source),
}


def _prior(source: SourcedDict) -> str:
    """``source.prior_turns``: what to do with a conversation that has earlier turns (formats.conversations)."""
    value = source.get("prior_turns", PRIOR_TURNS[0])
    if value not in PRIOR_TURNS:
        raise TaskError(f"{source.where('prior_turns')}: prior_turns must be one of {', '.join(PRIOR_TURNS)} (ask a "
                        "conversation with earlier turns as written, refuse it, or leave it out), not "
                        f"{str(value)[:80]!r}")
    return str(value)


def _source_criteria(items: list[Item], rubric: RubricSpec | None, source: SourcedDict) -> None:
    """A source whose items carry criteria (HealthBench, WildBench) fits a rubric task of a style its points suit."""
    with_criteria = [i for i in items if i.criteria]
    if not with_criteria:
        return
    where = source.where("format")
    if rubric is None:
        raise TaskError(f"{where}: format {source.get('format')!r} gives each item its criteria: use it in a task of "
                        "kind: rubric")
    style = STYLES[rubric.style]
    if style.has_levels:
        raise TaskError(f"{where}: format {source.get('format')!r} gives yes/no criteria, not a score rubric's levels: "
                        "use judge.style: points or checklist")
    if not style.needs_points:  # each criterion worth one point
        weighted = next((c for i in with_criteria for c in i.criteria if c.points != 1), None)
        if weighted is not None:
            raise TaskError(f"{weighted.source}: a criterion worth {weighted.points:g} points in a checklist (each "
                            "question is worth 1): use judge.style: points for this source")


def _source_items(source: SourcedDict, task_dir: Path) -> list[Item]:
    fmt = source.get("format")
    reader = SOURCE_READERS.get(str(fmt))
    if reader is None:
        close = closest(str(fmt), SOURCE_READERS)
        hint = f"; did you mean {close!r}?" if close else ""
        raise TaskError(f"{source.where('format')}: source format must be one of {', '.join(SOURCE_READERS)}{hint}")
    return reader(_data_path(source, task_dir), source, task_dir)


def _of_categories(items: list[Item], source: SourcedDict) -> list[Item]:
    """``source.categories``: the items of those categories only (Arena-Hard v2.0's hard prompts, say)."""
    if "categories" not in source:
        return items
    keep = set(_str_list(source["categories"], source.where("categories"), "categories"))
    unknown = sorted(keep - {i.category for i in items})
    if unknown:
        raise TaskError(f"{source.where('categories')}: no items of category {', '.join(unknown)} in the source")
    return [i for i in items if i.category in keep]


def _check_unique(items: list[Item]) -> None:
    first_seen: dict[str, str] = {}
    duplicates = []
    for item in items:
        if item.id in first_seen:
            duplicates.append(f"id {item.id!r} at {item.source} duplicates {first_seen[item.id]}")
        else:
            first_seen[item.id] = item.source
    if duplicates:
        raise TaskError("duplicate item ids: " + "; ".join(duplicates))


Answers = dict[str, tuple[str, ...]]


def _alpaca_reference(path: Path, items: list[Item]) -> tuple[str | None, Answers]:
    generator, by_instruction = alpaca_eval.answers_by_instruction(path)
    return generator, {i.id: (by_instruction[i.turns[0]],) for i in items if i.turns[0] in by_instruction}


def _pairs_reference(path: Path, items: list[Item]) -> tuple[str | None, Answers]:
    model, sides = scalerlab.side_answers(path, "A")  # response_A; the candidate's is response_B (--answers)
    return model, {i.id: sides[i.id] for i in items if i.id in sides}


def _fastchat_reference(path: Path, items: list[Item]) -> tuple[str | None, Answers]:
    return None, fastchat.answers(path)


# How a pairwise task's ``reference.source`` is read, by its format: (the model it names, if any; item id -> its
# answer's turns). Any other format (or none) is read as FastChat's (or Arena-Hard's, the same) answers file.
REFERENCE_READERS: dict[str, Callable[[Path, list[Item]], tuple[str | None, Answers]]] = {
    "alpaca_eval": _alpaca_reference,
    "scalerlab_judgebench": _pairs_reference,
}


def _reference_answers(ref: SourcedDict, items: list[Item], task_dir: Path) -> tuple[str, dict[str, tuple[str, ...]]]:
    model = str(ref.get("model", "reference"))
    answers: dict[str, tuple[str, ...]] = {}
    if "answers" in ref:
        raw = ref["answers"]
        if not isinstance(raw, SourcedDict):
            raise TaskError(f"{ref.where('answers')}: answers must map item id -> answer text")
        answers = {str(k): _str_list(v, raw.where(k), f"answer {k}") for k, v in raw.items()}
    elif "source" in ref:
        src = _mapping(ref, "source", "reference.source")
        path = _data_path(src, task_dir)
        named, answers = REFERENCE_READERS.get(str(src.get("format")), _fastchat_reference)(path, items)
        model = str(ref.get("model", named or model))
    else:
        raise TaskError(f"{ref.origin}: a pairwise task's reference needs 'answers' or 'source'")
    missing = [i.id for i in items if i.id not in answers]
    extra = sorted(set(answers) - {i.id for i in items})
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"no reference answer for item(s) {', '.join(missing[:10])}"
                         + (f" and {len(missing) - 10} more" if len(missing) > 10 else ""))
        if extra:
            parts.append(f"reference answers for unknown item(s) {', '.join(extra[:10])}")
        raise TaskError(f"{ref.origin}: reference answers do not match the items: {'; '.join(parts)}")
    return model, answers


def load_task(name_or_path: str, *, allow_paths: tuple[Path, ...] | list[Path] = ()) -> Task:
    """Load and check a task: fields, items, reference answers and prompt files. Its `path:` fields may name files
    in its own folder, and in ``allow_paths`` (what --allow-path gives the command line)."""
    with allowing_paths(allow_paths), _collector_paused():
        return _load_task(name_or_path)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """The garbage collector off while a task is read: reading makes objects by the hundred thousand (YAML nodes,
    values, items) and no reference cycle that needs collecting, yet each of its collections walks every object
    alive (measured: 40% of the CPU of reading a task of 8,000 items). Whatever is garbage is collected after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _load_task(name_or_path: str) -> Task:
    path = find_task(name_or_path)
    data = _load_with_includes(path)
    task_dir = path.resolve().parent
    for required in ("name", "kind", "judge"):
        if required not in data:
            raise TaskError(f"{data.origin}: the task is missing the field {required!r}")
    kind = data["kind"]
    if kind not in KINDS:
        raise TaskError(f"{data.where('kind')}: kind must be one of {', '.join(map(repr, KINDS))}, not {kind!r}")
    battles = _battles(data, kind)

    judge_raw = _mapping(data, "judge", "judge")
    rubric: RubricSpec | None = None
    if KINDS[kind].has_criteria:
        rubric = rubric_spec(data, judge_raw)
    else:
        not_rubric(data, judge_raw, kind)
    if "prompt" not in judge_raw:
        raise TaskError(f"{judge_raw.origin}: judge needs a 'prompt' template")
    scale = judge_raw.get("scale", [1, 10])
    if not (isinstance(scale, list) and len(scale) == 2 and all(isinstance(s, int) for s in scale)
            and scale[0] < scale[1]):
        raise TaskError(f"{judge_raw.where('scale')}: scale must be [low, high] integers, e.g. [1, 10]")
    labels = judge_raw.get("labels", ["A", "B", "C"])
    if not (isinstance(labels, list) and len(labels) in (3, 5) and all(isinstance(x, (str, int)) for x in labels)
            and len(set(map(str, labels))) == len(labels) and all(str(x).strip() for x in labels)):
        raise TaskError(f"{judge_raw.where('labels')}: labels must be three distinct strings (first better, second "
                        "better, tie) or five (first much better, first better, tie, second better, second much "
                        "better, e.g. [A>>B, A>B, A=B, B>A, B>>A])")
    on_empty = judge_raw.get("on_empty", "lowest")
    if on_empty not in ("lowest", "skip"):
        raise TaskError(f"{judge_raw.where('on_empty')}: on_empty must be 'lowest' (an empty answer gets the lowest "
                        f"grade or loses) or 'skip' (it is recorded and left out), not {on_empty!r}")
    fastchat: tuple[Any, ...] = ()
    if "fastchat_prompts" in judge_raw:
        source = _mapping(judge_raw, "fastchat_prompts", "judge.fastchat_prompts")
        try:
            fastchat = tuple(read_prompts(_data_path(source, path.resolve().parent)).values())
        except DataError as exc:
            raise TaskError(str(exc)) from exc
        for name in (judge_raw["prompt"], judge_raw.get("reference_prompt")):
            if name and not any(p.name == name for p in fastchat):
                raise TaskError(f"{judge_raw.where('prompt')}: FastChat's judge prompts have no {name!r}")
    judge = JudgeSpec(
        files=_protocol_files(judge_raw, path.resolve().parent),
        options=_options(judge_raw),
        fastchat_prompts=fastchat,
        prompt=str(judge_raw["prompt"]),
        reference_prompt=str(judge_raw["reference_prompt"]) if judge_raw.get("reference_prompt") else None,
        reference_categories=_str_list(judge_raw.get("reference_categories", []),
                                       judge_raw.where("reference_categories"), "reference_categories"),
        scale=(scale[0], scale[1]),
        labels=tuple(str(label) for label in labels),
        max_tokens=_positive_int(judge_raw, "max_tokens", 512),
        temperature=_number(judge_raw, "temperature", 0.0, low=0.0, high=2.0),
        on_empty=on_empty,
    )

    try:
        if "items" in data:
            items = _inline_items(data["items"], data.where("items"), STYLES[rubric.style] if rubric else None)
        elif "source" in data:
            source = _mapping(data, "source", "source")
            items = _source_items(source, task_dir)
            _source_criteria(items, rubric, source)
        elif KINDS[kind].needs_reference and "reference" in data:
            ref_src = _mapping(_mapping(data, "reference", "reference"), "source", "reference.source")
            items = _source_items(ref_src, task_dir)
        else:
            raise TaskError(f"{data.origin}: the task needs 'items' or a 'source'")
        _check_unique(items)
        if not items:
            raise TaskError(f"{data.origin}: the task has no items")
        if rubric is not None:
            items = rubric_items(rubric, items, {i.id: i.criteria for i in items})

        reference_model: str | None = None
        reference_answers: dict[str, tuple[str, ...]] = {}
        if KINDS[kind].needs_reference:
            if "reference" not in data:
                raise TaskError(f"{data.origin}: a {kind} task needs a 'reference' (model and answers)")
            reference_model, reference_answers = _reference_answers(
                _mapping(data, "reference", "reference"), items, task_dir)
    except DataError as exc:
        raise TaskError(str(exc)) from exc

    generation = _mapping(data, "generation", "generation")
    _check_generation(generation)
    by_category = _by_category(generation, items)
    gen_params = {"max_tokens": 256, "temperature": 0.0, **{k: v for k, v in generation.items() if k != "by_category"}}
    # Templates come from the task's folder, a prompts/ folder in it or beside it (the layout of this repository,
    # which users copy) and the built-ins, nowhere else; jinja2's loader refuses ".." within them.
    search = (task_dir, task_dir / "prompts", task_dir.parent / "prompts", prompts_dir())
    prompt_dirs = tuple(str(d) for d in search if d.is_dir())
    benchmark = data.get("benchmark", data["name"])
    if not isinstance(benchmark, str) or not benchmark.strip():
        raise TaskError(f"{data.where('benchmark')}: benchmark must be a name, e.g. mt-bench")
    protocol = data.get("protocol", data["name"])
    if not isinstance(protocol, str) or not PROTOCOL_NAME.fullmatch(protocol):
        raise TaskError(f"{data.where('protocol')}: protocol must be a name of letters, digits, '.', '_' and '-' "
                        f"(e.g. alpaca-eval-2.0), not {str(protocol)[:80]!r}")
    task = Task(
        name=str(data["name"]),
        kind=kind,
        benchmark=canonical_benchmark(benchmark),
        items=tuple(items),
        judge=judge,
        description=str(data.get("description", "")),
        generation=tuple(sorted(gen_params.items())),
        generation_by_category=by_category,
        reference_model=reference_model,
        reference_answers=tuple(sorted(reference_answers.items())),
        path=str(path),
        prompt_dirs=tuple(dict.fromkeys(prompt_dirs)),
        battles=battles,
        rubric=rubric,
        protocol=protocol.strip(),
    )
    _check_templates(judge_raw, task)
    try:
        KINDS[kind].check(task, judge_raw.origin)
    except DataError as exc:
        raise TaskError(str(exc)) from exc
    return task


def _check_templates(judge_raw: SourcedDict, task: Task) -> None:
    """A judge's jinja2 templates exist where templates are read from (a missing one named with the line of its
    key, not found only when the first prompt renders)."""
    if task.judge.fastchat_prompts:
        return
    for key in ("prompt", "reference_prompt"):
        name = judge_raw.get(key)
        if isinstance(name, str) and (Path(name).is_absolute() or ".." in Path(name).parts):
            raise TaskError(f"{judge_raw.where(key)}: the template {name[:200]!r} is outside the task's folder; a "
                            "template is named relative to the task file's folder (or a built-in one by its name)")
        if isinstance(name, str) and name.endswith(TEMPLATE_SUFFIXES):
            try:
                load_template(name, task.prompt_dirs)
            except TemplateMissing as exc:
                raise TaskError(f"{judge_raw.where(key)}: {exc}") from None


def _protocol_files(judge_raw: SourcedDict, task_dir: Path) -> tuple[tuple[str, str], ...]:
    """``judge.files:``: a published protocol's own files (name -> a data source), each resolved to a local file
    checked by its sha256, in the order given."""
    if "files" not in judge_raw:
        return ()
    files = _mapping(judge_raw, "files", "judge.files")
    found = []
    for name in files:
        spec = files[name]
        if not isinstance(spec, SourcedDict):
            raise TaskError(f"{files.where(name)}: judge.files.{name} must be a mapping with url and sha256 (or path)")
        local = spec.get("path")
        # A protocol's files come by URL (checked by sha256) or from the task's own folder, nowhere else on the
        # machine: task files are shared, and a path could otherwise send any file to the judge.
        if local is not None and not (isinstance(local, str) and any(
                _within(task_dir / local, folder) for folder in (task_dir, *allowed_dirs()))):
            raise TaskError(f"{spec.where('path')}: judge.files.{name}.path must be a file in the task's folder "
                            f"({task_dir}), not {str(local)[:200]!r}; use url + sha256 for anything else (or allow "
                            "its folder with --allow-path DIR)")
        try:
            found.append((str(name), str(_data_path(spec, task_dir))))
        except DataError as exc:
            raise TaskError(str(exc)) from exc
    return tuple(found)


def _options(judge_raw: SourcedDict) -> tuple[tuple[str, Any], ...]:
    """``judge.options:``: settings of the task kind (checked by the kind), kept as plain values."""
    if "options" not in judge_raw:
        return ()
    options = _mapping(judge_raw, "options", "judge.options")
    return tuple((str(k), _plain(options[k])) for k in options)


def _plain(value: Any) -> Any:
    """A YAML value without its source positions, lists as tuples, so a Task stays hashable."""
    if isinstance(value, dict):
        return tuple((str(k), _plain(v)) for k, v in value.items())
    if isinstance(value, list):
        return tuple(_plain(v) for v in value)
    return value


def _battles(data: SourcedDict, kind: str) -> BattlesSpec | None:
    """The ``battles:`` block of a battles task (all pairs on every item when it is left out)."""
    if not KINDS[kind].compares_models:
        if "battles" in data:
            raise TaskError(f"{data.where('battles')}: a 'battles' block belongs to a task of kind 'battles', not "
                            f"{kind!r}")
        return None
    raw = _mapping(data, "battles", "battles")
    schedule = raw.get("schedule", "all-pairs")
    if schedule not in SCHEDULES:
        raise TaskError(f"{raw.where('schedule')}: schedule must be one of {', '.join(SCHEDULES)}, not {schedule!r}")
    baseline = raw.get("baseline")
    if schedule == "baseline" and (not isinstance(baseline, str) or not baseline.strip()):
        raise TaskError(f"{raw.where('baseline') if 'baseline' in raw else raw.origin}: the baseline schedule needs "
                        "'baseline: MODEL_NAME' (the model every other model battles)")
    if schedule != "baseline" and "baseline" in raw:
        raise TaskError(f"{raw.where('baseline')}: baseline is for 'schedule: baseline' (this one is {schedule})")
    for key in ("budget", "cover"):
        if key in raw and schedule != "sampled":
            raise TaskError(f"{raw.where(key)}: {key} is for 'schedule: sampled' (this one is {schedule})")
    seed = raw.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise TaskError(f"{raw.where('seed')}: seed must be a whole number from 0, not {seed!r}")
    return BattlesSpec(schedule=str(schedule), baseline=str(baseline) if baseline else None,
                       budget=_positive_int(raw, "budget", 1) if "budget" in raw else None,
                       cover=_positive_int(raw, "cover", 1) if "cover" in raw else None, seed=seed)

