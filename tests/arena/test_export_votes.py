"""A human arena's votes exported as preference pairs (`judgebench export-preferences`): every counted decisive
vote one pair, as the battle was shown, checked against the votes cast."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from judgebench.arena import store
from judgebench.arena.pool import Pool
from judgebench.cli import main
from judgebench.formats.preference_file import read_preferences

from .test_arena_db import voted_db  # noqa: F401  (the fixture)


def test_counted_decisive_votes_become_pairs_with_the_texts_shown(
        voted_db: tuple[Path, list[tuple[store.BattleRow, str]]], pool: Pool, tmp_path: Path) -> None:  # noqa: F811
    db, plan = voted_db
    out = tmp_path / "votes.parquet"
    result = CliRunner().invoke(main, ["export-preferences", str(db), "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = read_preferences(out)
    # Independently, from the votes cast: a vote for A or B on a battle neither flagged nor a repeat.
    expected = sorted((row.item_id, row.model_a if winner == "A" else row.model_b) for row, winner in plan
                      if winner in ("A", "B") and row.flagged is None and row.check_of is None)
    assert sorted((r["item_id"], r["chosen_model"]) for r in rows) == expected
    for r in rows:
        item, chosen, rejected = pool.items[r["item_id"]], r["chosen_model"], r["rejected_model"]
        turns = len(item.turns)
        assert r["source"] == "human" and r["orders"] == 1 and r["margin"] == 1.0 and r["turn"] == turns
        # The judged (last) turn's answers; the earlier turns in the prompt, with the chosen model's answers.
        assert r["chosen"] == [{"role": "assistant", "content": pool.answers[chosen][item.id][turns - 1]}]
        assert r["rejected"] == [{"role": "assistant", "content": pool.answers[rejected][item.id][turns - 1]}]
        assert [m["content"] for m in r["prompt"][::2]] == list(item.turns)
        assert [m["content"] for m in r["prompt"][1::2]] == list(pool.answers[chosen][item.id][:turns - 1])
    # Two ties (a tie, both bad) and the flagged vote are counted, never exported.
    assert "of 7 judgments, left out: 2 ties, 1 excluded" in result.output
