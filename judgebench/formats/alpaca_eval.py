"""AlpacaEval's files: ``model_outputs.json`` (instructions and a model's outputs) and ``annotations.json(.gz)``
(the judge's preferences). Items are identified by their instruction (formats.identity.instruction_id), in our
runs and in AlpacaEval's files alike."""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path
from typing import Any

import msgspec

from ..errors import DataError
from ..stats.style import MarkdownCounts, markdown_counts
from ..types import Item, Judgment
from .common import content, decode, json_error, read_bytes, read_json
from .identity import ALPACA_EVAL, instruction_id
from .table import flat_judgment

# The protocol an annotator's judgments belong to: AlpacaEval 2.0's own annotator is the alpaca-eval-2 task's
# protocol, so its judgments have one identity whichever harness wrote them; other annotators are their config.
PROTOCOLS = {"weighted_alpaca_eval_gpt4_turbo": "alpaca-eval-2.0"}


def protocol_of(annotator: str) -> str:
    return PROTOCOLS.get(annotator, annotator)


# AlpacaEval's layout: results/<model>/model_outputs.json and results/<model>/<annotator>/annotations.json[.gz].
_ANNOTATIONS = ("annotations.json", "annotations.json.gz")
_OUTPUTS = ("model_outputs.json", "model_outputs.json.gz")


def folder_model(path: Path) -> str | None:
    """The model a file in AlpacaEval's results layout belongs to: its results folder's name, which is how
    AlpacaEval's leaderboard names it (NullModel's rows say ``generator_2: example``); None outside that layout."""
    parents = path.parents
    if path.name in _ANNOTATIONS and len(parents) > 2 and parents[2].name == "results":
        return parents[1].name or None
    if path.name in _OUTPUTS and len(parents) > 1 and parents[1].name == "results":
        return parents[0].name or None
    return None


def outputs(path: Path) -> list[dict[str, Any]]:
    """``model_outputs.json``: a list of {instruction, output, generator, dataset}."""
    data = read_json(path)
    if not isinstance(data, list) or not all(isinstance(r, dict) and "instruction" in r for r in data):
        raise DataError(f"{path}: expected a JSON list of objects with 'instruction' (AlpacaEval model_outputs)")
    return data


def items(path: Path) -> list[Item]:
    return [
        Item(id=instruction_id(str(rec["instruction"])), category=str(rec.get("dataset", "alpaca_eval")),
             turns=(str(rec["instruction"]),), source=f"{path}[{i}]")
        for i, rec in enumerate(outputs(path))
    ]


def answers_by_instruction(path: Path) -> tuple[str | None, dict[str, str]]:
    """(generator, instruction -> output) of a ``model_outputs.json``, or of an ``annotations.json`` of one model
    (its ``output_2``: the answers AlpacaEval's annotator judged, so a replay can be run on exactly them)."""
    rows = outputs(path)
    if rows and all("output" not in r and "output_2" in r for r in rows):
        generators = {str(r.get("generator_2")) for r in rows}
        if len(generators) != 1:
            raise DataError(f"{path}: an annotations file of {len(generators)} models; give one model's answers")
        return generators.pop(), {str(r["instruction"]): str(r["output_2"]) for r in rows}
    unanswered = [i for i, r in enumerate(rows) if not isinstance(r.get("output"), str)]
    if unanswered:
        raise DataError(f"{path}: row {unanswered[0]} (of {len(unanswered)}) has no 'output' text: not AlpacaEval "
                        "model outputs")
    generator = str(rows[0].get("generator")) if rows and rows[0].get("generator") else None
    return generator, {str(r["instruction"]): str(r["output"]) for r in rows}


def _float(value: Any) -> float | None:
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(result) else result


def _nonnegative(value: Any) -> float | None:
    found = _float(value) if not isinstance(value, bool) else None
    return found if found is not None and 0 <= found < math.inf else None


class _Annotation(msgspec.Struct):
    """The fields of an annotation that the records need, its price and time per example (what the judge cost)
    among them. The rest of a row (the judge's raw completion, ...) is skipped unread, and a typed row costs no
    dict: decoding the 42 AlpacaEval 2.0 files this way takes a quarter of the time of json.loads (both on the same
    decompressed bytes)."""

    instruction: str
    generator_1: Any
    generator_2: Any
    output_1: Any = None
    output_2: Any = None
    preference: Any = None
    dataset: Any = ""
    annotator: Any = "unknown"
    price_per_example: Any = None
    time_per_example: Any = None


_ROWS = list[_Annotation]
# Every file of a leaderboard repeats the baseline's outputs: their markdown is counted once.
_counts = functools.lru_cache(maxsize=4096)(markdown_counts)
_DECODER = msgspec.json.Decoder(_ROWS)
_SHAPE = ("expected a JSON list of AlpacaEval annotations: objects with instruction, generator_1, generator_2 and "
          "preference")


def _rows(data: bytes, where: str) -> list[_Annotation]:
    return decode_annotations(data, where, _ROWS, _SHAPE, _DECODER)


def decode_annotations(data: bytes, where: str, rows: Any, shape: str,
                       decoder: msgspec.json.Decoder[Any] | None = None) -> Any:
    """An AlpacaEval annotations file's bytes as ``rows`` (a msgspec type), read the same way by every command:
    msgspec first, then, for what it refuses and json.loads reads (a byte-order mark, NaN, Infinity), the standard
    library on the same bytes, whose error names the line. Anything of another shape is one error saying
    ``shape``."""
    try:
        try:
            return (decoder or msgspec.json.Decoder(rows)).decode(data)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            text = decode(data, where)
            try:
                value = json.loads(text)
            except (json.JSONDecodeError, RecursionError) as exc:
                raise json_error(exc, where) from None
            return msgspec.convert(value, rows)
    except msgspec.ValidationError as exc:
        raise DataError(f"{where}: not AlpacaEval annotations ({exc}); {shape}") from exc


def _append_counts(columns: dict[str, list[Any]], prefix: str, counts: MarkdownCounts) -> None:
    """The style covariates of style-controlled Bradley-Terry (stats.style_control)."""
    columns[prefix + "headers"].append(counts.headers)
    columns[prefix + "lists"].append(counts.lists)
    columns[prefix + "bold"].append(counts.bold)


def annotation_columns(data: bytes, where: str, model: str | None = None) -> dict[str, list[Any]]:
    """The judgments of an ``annotations.json`` (its decompressed bytes), column by column (formats.table):
    output_1 is the baseline's, output_2 the model's; preference in [1, 2] (AlpacaEval's 0 means a draw: 1.5).
    One combined preference per instruction, no order-level verdicts; both outputs' length and markdown counts.
    ``where`` names the file in errors; ``model`` (its results folder, ``folder_model``) names the model in
    place of ``generator_2`` when the file holds one model, as AlpacaEval's leaderboard does."""
    rows = _rows(data, where)
    model = model if model is not None and len({str(row.generator_2) for row in rows}) == 1 else None
    columns: dict[str, list[Any]] = {name: [] for name in (
        "item_id", "category", "model", "judge", "opponent", "preference", "error", "failure", "length",
        "opponent_length", "headers", "lists", "bold", "opponent_headers", "opponent_lists", "opponent_bold",
        "protocol", "judge_calls", "judge_cost_usd", "judge_latency_s")}
    n = 0
    try:
        for n, row in enumerate(rows):  # noqa: B007  (n names the bad row below)
            preference = _float(row.preference)
            if preference == 0.0:
                preference = 1.5
            # Outside [1, 2] is no preference AlpacaEval writes: a failure, never a win rate of inf.
            error = "no preference in the annotation" if preference is None else None
            if preference is not None and not 1.0 <= preference <= 2.0:
                error, preference = f"preference {str(row.preference)[:40]} is outside [1, 2] (0: a draw)", None
            columns["item_id"].append(instruction_id(row.instruction))
            columns["category"].append(str(row.dataset))
            columns["model"].append(model if model is not None else str(row.generator_2))
            columns["judge"].append(str(row.annotator))
            columns["protocol"].append(protocol_of(str(row.annotator)))
            columns["opponent"].append(str(row.generator_1))
            columns["preference"].append(preference)
            columns["error"].append(error)
            columns["failure"].append(None if preference is not None else "parse")
            columns["length"].append(len(row.output_2 or ""))
            columns["opponent_length"].append(len(row.output_1 or ""))
            _append_counts(columns, "", _counts(str(row.output_2 or "")))
            _append_counts(columns, "opponent_", _counts(str(row.output_1 or "")))
            # What the annotation cost, as AlpacaEval recorded it (NaN, negative or absent: not recorded): one call,
            # as formats.table.recorded_call has it.
            price, seconds = _nonnegative(row.price_per_example), _nonnegative(row.time_per_example)
            recorded = price is not None or seconds is not None
            columns["judge_calls"].append(1.0 if recorded else None)
            columns["judge_cost_usd"].append(price)
            columns["judge_latency_s"].append((seconds or 0.0) if recorded else None)
    except TypeError as exc:
        raise DataError(f"{where}[{n}]: not an AlpacaEval annotation ({exc}); {_SHAPE}") from exc
    constant = {"benchmark": ALPACA_EVAL, "turn": 1, "kind": "pairwise"}
    return {**{name: [value] * len(rows) for name, value in constant.items()}, **columns}


def answer_names(path: Path) -> dict[tuple[str, str], str]:
    """Who wrote each answer of an ``annotations.json(.gz)``: (item id, formats.labels.output_name of the answer's
    text) -> the model, both sides, named as ``annotation_columns`` names them. How labels that know the answers
    only by their text (AlpacaEval's human cross-annotations) find the judged models."""
    from .labels import output_name

    rows = _rows(content(path, read_bytes(path)), str(path))
    folder = folder_model(path)
    model = folder if folder is not None and len({str(row.generator_2) for row in rows}) == 1 else None
    names: dict[tuple[str, str], str] = {}
    for row in rows:
        item = instruction_id(row.instruction)
        names[(item, output_name(str(row.output_1 or "")))] = str(row.generator_1)
        names[(item, output_name(str(row.output_2 or "")))] = model if model is not None else str(row.generator_2)
    return names


def read_annotations(path: Path) -> list[Judgment]:
    """``annotations.json(.gz)`` as judgments (see ``annotation_columns``)."""
    columns = annotation_columns(content(path, read_bytes(path)), str(path), folder_model(path))
    return [flat_judgment(dict(zip(columns, values, strict=True))) for values in zip(*columns.values(), strict=True)]
