"""The per-sample viewer: every judgment on the site, read, searched and filtered in the browser (viewer.html).

What it writes beside the leaderboard:

- ``viewer.html``: the page; its script and style are ``viewer/viewer.js`` and ``viewer/viewer.css`` (shipped in
  the package, publish/static/).
- ``viewer/index.js``: the facets (benchmarks, judges, models, categories, kinds) and, per shard, what it holds
  counted by facet and by flag, so a filter loads only the shards that can match and, for one facet, knows its
  count without loading any.
- ``viewer/shards/<n>.js``: the judgments, at most ``SHARD_ROWS`` (and about ``SHARD_BYTES``) at a time, each
  with its texts; a shard holds one (benchmark, judge, model) and keeps each text once.
- ``viewer/texts/<n>.js``: the texts several shards show (a question and its reference answer, shown with every
  model's answer; an answer, with each of its judges), kept once, in packs of about ``PACK_CHARS`` characters.

The data are scripts (``JBV.index(...)``, ``JBV.shard(n, ...)``, ``JBV.texts(n, ...)``) loaded by ``<script>``
elements, not fetch(): the site is opened from file://, where Chromium refuses fetch() but loads scripts beside the
page.

The rows and their flags come from the judgments frame the tables are computed from, with the aggregations' own
tests (analysis.aggregate: failed_judgments, parse_failures, position_flips), so the viewer's counts are the tables'.
Every text is data: viewer.js only ever sets textContent.
"""

from __future__ import annotations

import json
import shutil
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..analysis.aggregate import failed_judgments, parse_failures, position_flips
from ..formats.identity import benchmark_label
from ..formats.texts import JudgmentText, TextKey
from ..judging.kinds import kind_of
from ..judging.verdicts import OPPONENT_OUTCOME
from . import pages
from .rubric_tables import num_text

SHARD_ROWS = 100  # judgments per shard at most: a first page (PAGE_SIZE in viewer.js) reads one shard
SHARD_BYTES = 400_000  # a shard is closed once its texts pass this many characters
PACK_CHARS = 200_000  # characters per pack of the texts several shards show (viewer/texts/<n>.js)
FLAGS = ("failed", "parse", "flip", "disagree")  # bit i of a row's "x" is FLAGS[i]; viewer.js knows this order
ASSETS = ("viewer.js", "viewer.css")
PAGE = "viewer.html"


@dataclass(frozen=True)
class ViewerStats:
    """What the viewer's files came to: judgments, shards, and their sizes in bytes."""

    n_judgments: int
    n_shards: int
    n_packs: int
    index_bytes: int
    largest_shard_bytes: int
    total_bytes: int


def href(section: pages.Section | None, row: Any = None, prefix: str = "", **extra: object) -> str:
    """The viewer filtered to a table's section (benchmark, protocol, judge), to one of its rows (that row's
    judgments: its model and, outside battles, its opponent where the table has several) and to ``extra``
    filters (category, turn, a flag, or any of the viewer's filters where there is no section)."""
    filters: dict[str, object] = {} if section is None else {"benchmark": section.title, "judge": section.judge}
    if section is not None and row is not None:
        filters["model"] = row.model
        # A table is one ranking (one kind, one reference), but its benchmark and judge may have other tables (grades
        # beside battles, two references): the row's kind and reference narrow the link to this table's judgments.
        if not section.battles and row.opponent:
            filters["opponent"] = row.opponent
        filters["kind"] = row.kind
    filters.update({k: v for k, v in extra.items() if v is not None})
    return f"{prefix}{PAGE}#{urllib.parse.urlencode(filters, quote_via=urllib.parse.quote)}"


def text_keys(frame: pd.DataFrame) -> set[TextKey]:
    """The texts every judgment of the frame is shown with."""
    opponents = frame["opponent"].where(frame["opponent"].notna(), "").astype(str)
    return set(zip(frame["benchmark"].astype(str), frame["judge"].astype(str), frame["model"].astype(str),
                   opponents, frame["item_id"].astype(str), frame["turn"].astype(int), strict=True))


def _compares(frame: pd.DataFrame) -> pd.Series:
    kinds = {kind: kind_of(str(kind)).compares_models for kind in frame["kind"].dropna().unique()}
    return frame["kind"].map(kinds).fillna(False).astype(bool)


def _labels(frame: pd.DataFrame) -> pd.Series:
    """Each judgment's outcome as agreement statistics compare them (the kind's label: a grade, or win / tie /
    loss for the candidate), as text; None where it has none."""
    labels = pd.Series(None, index=frame.index, dtype=object)
    for kind, part in frame.groupby("kind", sort=True):
        values = kind_of(str(kind)).label(part)
        labels.loc[part.index] = [None if v is None or (isinstance(v, float) and np.isnan(v))
                                  else f"{v:g}" if isinstance(v, (int, float)) else str(v) for v in values]
    return labels


def judge_disagreements(frame: pd.DataFrame) -> tuple[pd.Series, list[list[list[str | None]] | None]]:
    """(which judgments another judge of the same item, models and turn judged otherwise; each judgment's other
    judges' outcomes, ``[[judge, outcome], ...]`` from its candidate's side, or None where no other judge judged
    it). A battle recorded with its models the other way round by another judge is the same comparison."""
    labels = _labels(frame)
    swap = _compares(frame) & (frame["opponent"].fillna("").astype(str) < frame["model"].astype(str))
    first = frame["model"].where(~swap, frame["opponent"]).astype(str)
    second = frame["opponent"].where(~swap, frame["model"]).fillna("").astype(str)
    oriented = labels.where(~swap, labels.map(lambda v: OPPONENT_OUTCOME.get(v, v) if v is not None else None))
    keys = pd.DataFrame({"b": frame["benchmark"].astype(str), "p": frame["protocol"].fillna("").astype(str),
                         "k": frame["kind"].astype(str), "m": first, "o": second,
                         "i": frame["item_id"].astype(str), "t": frame["turn"].astype(int)})
    group = keys.groupby(list(keys.columns), sort=False).ngroup().to_numpy()
    judged = oriented.notna().to_numpy()
    sizes = np.bincount(group[judged], minlength=group.max() + 1 if len(group) else 0)
    distinct = pd.Series(oriented[judged].to_numpy()).groupby(group[judged]).nunique()
    several = np.zeros(len(sizes), dtype=bool)
    several[distinct.index.to_numpy()] = distinct.to_numpy() > 1
    disagree = pd.Series(judged & several[group], index=frame.index)
    peers: list[list[list[str | None]] | None] = [None] * len(frame)
    shared = np.flatnonzero(sizes[group] - judged.astype(int) > 0)  # rows some other judge also judged
    judges, own_side = frame["judge"].astype(str).to_numpy(), swap.to_numpy()
    values = oriented.to_numpy()
    members: dict[int, list[int]] = {}
    for position in np.flatnonzero(judged):
        members.setdefault(int(group[position]), []).append(int(position))
    for position in shared:
        others = [p for p in members.get(int(group[position]), []) if p != position]
        peers[position] = [[judges[p], _side(values[p], bool(own_side[position]))] for p in others]
    return disagree, peers


def _side(label: str | None, swapped: bool) -> str | None:
    """A comparison's oriented outcome from the side of a judgment whose models were swapped to orient it."""
    return OPPONENT_OUTCOME.get(label, label) if swapped and label is not None else label


def judgment_flags(frame: pd.DataFrame, disagree: pd.Series | None = None) -> pd.DataFrame:
    """One boolean column per flag (FLAGS), one row per judgment (``disagree``: judge_disagreements' first part,
    where it is known already)."""
    disagree = judge_disagreements(frame)[0] if disagree is None else disagree
    return pd.DataFrame({"failed": failed_judgments(frame), "parse": parse_failures(frame),
                         "flip": position_flips(frame), "disagree": disagree}, index=frame.index)


class _Facets:
    """Names shown in the viewer's selects (sorted); rows and shards refer to them by position."""

    NAMES = ("benchmarks", "judges", "models", "categories", "kinds")

    def __init__(self, frame: pd.DataFrame) -> None:
        opponents = set(frame["opponent"].dropna().astype(str))
        found = {"benchmarks": set(frame["_label"]), "judges": set(frame["judge"].astype(str)),
                 "models": set(frame["model"].astype(str)) | opponents,
                 "categories": set(frame["category"].astype(str)), "kinds": set(frame["kind"].astype(str))}
        self.names = {name: sorted(found[name]) for name in self.NAMES}
        self.positions = {name: {v: i for i, v in enumerate(values)} for name, values in self.names.items()}

    def at(self, name: str, value: object) -> int:
        return self.positions[name][str(value)]


def _ordered(frame: pd.DataFrame) -> pd.DataFrame:
    """The judgments in the viewer's order: by benchmark, judge and model, each group in the frame's (canonical)
    order."""
    labels = [benchmark_label(str(b), p if isinstance(p, str) else "")
              for b, p in zip(frame["benchmark"], frame["protocol"], strict=True)]
    ordered = frame.assign(_label=labels)
    return ordered.sort_values(["_label", "judge", "model"], kind="stable")


def _shards(groups: Sequence[tuple[str, str, str]], sizes: Sequence[int]) -> Iterator[list[int]]:
    """The row positions of each shard: each (benchmark, judge, model) group cut at SHARD_ROWS judgments or
    SHARD_BYTES characters of text."""
    start = 0
    while start < len(groups):
        end, size = start, 0
        while end < len(groups) and groups[end] == groups[start] and end - start < SHARD_ROWS and size < SHARD_BYTES:
            size += sizes[end]
            end += 1
        yield list(range(start, end))
        start = end


def _text_key(record: Mapping[str, Any]) -> TextKey:
    opponent = record["opponent"]
    return (str(record["benchmark"]), str(record["judge"]), str(record["model"]),
            opponent if isinstance(opponent, str) else "", str(record["item_id"]), int(record["turn"]))


def _text_size(text: JudgmentText | None) -> int:
    return 0 if text is None else sum(len(p) for p in _parts(text))


def _parts(text: JudgmentText) -> tuple[str, ...]:
    prompt = (text.prompt,) if text.prompt else ()
    return (*text.question, *text.answer, *text.opponent_answer, *text.replies, *prompt)


def _shared(found: Sequence[JudgmentText | None], shard_of: Sequence[int]) -> dict[str, int]:
    """The texts that more than one shard shows (a question or a reference answer shown with every model's answer,
    an answer with each of its judges), kept once, in text packs. They are numbered in order of first appearance,
    so the first shard's page finds its texts in the first pack."""
    first: dict[str, int] = {}  # in order of first appearance
    several: set[str] = set()
    for text, shard in zip(found, shard_of, strict=True):
        for part in _parts(text) if text is not None else ():
            if first.setdefault(part, shard) != shard:
                several.add(part)
    return {part: number for number, part in enumerate(p for p in first if p in several)}


def _packs(shared: Mapping[str, int]) -> list[list[str]]:
    """The shared texts in order, cut into packs of about PACK_CHARS characters."""
    packs: list[list[str]] = [[]]
    size = 0
    for text in shared:  # a dict keeps the order of numbering
        if size >= PACK_CHARS:
            packs.append([])
            size = 0
        packs[-1].append(text)
        size += len(text)
    return packs if packs[0] else []


class _Strings:
    """A shard's texts, each kept once (a question is shared by its turns and judges, an answer by its judges). A
    text other shards show too is a reference to the packs: -(its number + 1)."""

    def __init__(self, shared: Mapping[str, int]) -> None:
        self.values: list[str] = []
        self.positions: dict[str, int] = {}
        self.shared = shared

    def ref(self, text: str) -> int:
        if text in self.shared:
            return -self.shared[text] - 1
        if text not in self.positions:
            self.positions[text] = len(self.values)
            self.values.append(text)
        return self.positions[text]

    def refs(self, texts: Sequence[str]) -> list[int]:
        return [self.ref(t) for t in texts]


def _row(record: Mapping[str, Any], number: int, bits: int, peers: list[list[str | None]] | None,
         text: JudgmentText | None, strings: _Strings, facets: _Facets, battle: bool) -> dict[str, Any]:
    """One judgment as viewer.js reads it (short keys: a shard holds many)."""
    opponent = record["opponent"]
    error, failure = record["error"], record["failure"]
    row: dict[str, Any] = {
        "id": number, "item": str(record["item_id"]), "t": int(record["turn"]),
        "c": facets.at("categories", record["category"]), "k": facets.at("kinds", record["kind"]),
        "o": facets.at("models", opponent) if isinstance(opponent, str) else -1,
        "v": pages.battle_verdict_text(record, str(record["model"])) if battle else pages.verdict_text(record),
        "e": error if isinstance(error, str) else None, "fk": failure if isinstance(failure, str) else None,
        "x": bits, "peers": _peer_words(peers, str(record["kind"]), str(record["model"]))}
    if isinstance(record.get("criteria"), str):
        row["cr"] = criteria_rows(str(record["criteria"]))
    if kind_of(str(record["kind"])).whole_conversation:
        row["w"] = 1  # judged over the whole conversation: its title says so, not "turn N"
    if text is not None:
        row.update({"q": strings.refs(text.question), "a": strings.refs(text.answer),
                    "oa": strings.refs(text.opponent_answer), "ol": text.opponent_label,
                    "r": strings.refs(text.replies), "p": strings.ref(text.prompt) if text.prompt else -1})
    return row


def criteria_rows(criteria: str) -> list[list[Any]]:
    """A rubric judgment's criteria (the frame's ``criteria`` column, formats.table) as viewer.js shows them:
    ``[id, text, points, met (true, false or null: no verdict), level (a score rubric's, or null)]``."""
    return [[str(c.get("id", "")), str(c.get("text", "")), c.get("points"), c.get("met"), c.get("level")]
            for c in json.loads(criteria)]


def _peer_words(peers: list[list[str | None]] | None, kind: str, model: str) -> list[list[str | None]] | None:
    """Other judges' outcomes as the page says them: a grade, or the outcome for this judgment's candidate."""
    if peers is None:
        return None
    what = kind_of(kind)
    return [[judge, None if label is None else f"rubric score {num_text(float(label))}" if what.has_criteria
             else f"grade {label}" if what.has_grades else f"{label} for {model}"]
            for judge, label in peers]


def _counts(values: Sequence[int]) -> dict[str, int]:
    found: dict[str, int] = {}
    for value in values:
        found[str(value)] = found.get(str(value), 0) + 1
    return found


def _dump(prefix: str, value: object) -> bytes:
    """``prefix(value);`` as a script. Lone surrogates (a server's broken text) are written as JavaScript escapes,
    which is what JSON would have held."""
    body = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False)
    return f"{prefix}{body});\n".encode("utf-8", "backslashreplace")


def write_viewer(out: Path, frame: pd.DataFrame, texts: Mapping[TextKey, JudgmentText],
                 **page: object) -> ViewerStats:
    """Write viewer.html and viewer/ (index, shards, assets) under the site folder ``out``."""
    frame = _ordered(frame).reset_index(drop=True)
    disagree, peers = judge_disagreements(frame)
    flags = judgment_flags(frame, disagree).to_numpy()
    bits = (flags * (1 << np.arange(len(FLAGS)))).sum(axis=1).astype(int)
    battle = _compares(frame).to_numpy()
    facets = _Facets(frame)
    records = frame.to_dict("records")
    found = [texts.get(_text_key(r)) for r in records]
    groups = [(str(r["_label"]), str(r["judge"]), str(r["model"])) for r in records]
    folder = out / "viewer"
    (folder / "shards").mkdir(parents=True)
    (folder / "texts").mkdir()
    cuts = list(_shards(groups, [_text_size(t) for t in found]))
    shared = _shared(found, [number for number, positions in enumerate(cuts) for _ in positions])
    packs = _packs(shared)
    largest, total = 0, 0
    for number, pack in enumerate(packs):
        data = _dump(f"JBV.texts({number},", pack)
        (folder / "texts" / f"{number}.js").write_bytes(data)
        largest, total = max(largest, len(data)), total + len(data)
    entries = []
    for number, positions in enumerate(cuts):
        label, judge, model = groups[positions[0]]
        strings = _Strings(shared)
        rows = [_row(records[p], p, int(bits[p]), peers[p], found[p], strings, facets, bool(battle[p]))
                for p in positions]
        constant = {"b": facets.at("benchmarks", label), "j": facets.at("judges", judge),
                    "m": facets.at("models", model)}
        data = _dump(f"JBV.shard({number},", {**constant, "rows": rows, "texts": strings.values})
        (folder / "shards" / f"{number}.js").write_bytes(data)
        largest, total = max(largest, len(data)), total + len(data)
        entries.append({**constant, **_counted(rows, battle[positions], flags[positions])})
    kinds = facets.names["kinds"]
    index = _dump("JBV.index(", {"facets": facets.names, "flags": list(FLAGS), "shards": entries,
                                 "packs": [len(pack) for pack in packs],
                                 "battle_kinds": [i for i, k in enumerate(kinds) if kind_of(k).compares_models],
                                 "total": len(frame)})
    (folder / "index.js").write_bytes(index)
    for asset in ASSETS:
        with resources.as_file(resources.files("judgebench.publish") / "static" / asset) as source:
            shutil.copyfile(source, folder / asset)
    html = pages.environment().get_template("viewer.html.jinja").render(n_judgments=len(frame), **page)
    (out / PAGE).write_text(html)
    return ViewerStats(len(frame), len(entries), len(packs), len(index), largest, total + len(index))


def _counted(rows: Sequence[Mapping[str, Any]], battle: np.ndarray, flags: np.ndarray) -> dict[str, Any]:
    """A shard's counts in the index, by facet and flag, so the page can bound (or, for one facet, know) a
    filter's matches in it without loading it. ``bo``: battles by opponent (a battle is also its opponent's)."""
    return {"n": len(rows), "c": _counts([r["c"] for r in rows]), "k": _counts([r["k"] for r in rows]),
            "t": _counts([r["t"] for r in rows]), "o": _counts([r["o"] for r in rows if r["o"] >= 0]),
            "bo": _counts([r["o"] for r, b in zip(rows, battle, strict=True) if b and r["o"] >= 0]),
            "f": [int(v) for v in flags.sum(axis=0)]}
