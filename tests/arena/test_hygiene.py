"""Identity leaks on real MT-Bench answers, and the consistency test's chance level and threshold."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from judgebench.arena import hygiene


def real_answer(shared_data: Path, stem: str, question: int) -> tuple[str, ...]:
    for line in (shared_data / "mt_bench" / "model_answer" / f"{stem}.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["question_id"] == question:
            return tuple(record["choices"][0]["turns"])
    raise AssertionError(f"no answer of {stem} to {question}")


def real_question(shared_data: Path, question: int) -> tuple[str, ...]:
    for line in (shared_data / "mt_bench" / "question.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["question_id"] == question:
            return tuple(record["turns"])
    raise AssertionError(f"no question {question}")


@pytest.mark.parametrize(("stem", "question", "said"), [
    ("claude-v1", 100, "Anthropic"),          # "I am an AI assistant created by Anthropic"
    ("claude-instant-v1", 100, "Claude"),     # "I am Claude, an AI assistant created by Anthropic."
    ("tulu-30b", 98, "OpenAI"),               # "the folks at OpenAI have been able to do with GPT-4"
])
def test_real_answers_that_give_their_maker_away_are_flagged(shared_data: Path, stem: str, question: int,
                                                             said: str) -> None:
    answer = real_answer(shared_data, stem, question)
    other = real_answer(shared_data, "alpaca-13b", question)
    reason = hygiene.identity_leak([*answer, *other], [stem, "alpaca-13b"], real_question(shared_data, question))
    assert reason is not None and said in reason


def test_a_name_the_question_itself_says_gives_nothing_away(shared_data: Path) -> None:
    # MT-Bench 98 asks Tony Stark about GPT-4: gpt-4's answer says "GPT-4 is undoubtedly an impressive AI ...".
    answer = real_answer(shared_data, "gpt-4", 98)
    assert "GPT-4" in answer[1]
    question = real_question(shared_data, 98)
    assert hygiene.identity_leak(answer, ["gpt-4", "alpaca-13b"], question) is None
    assert hygiene.identity_leak(answer, ["gpt-4", "alpaca-13b"]) is not None  # without the question: a leak


def test_claude_monet_is_not_claude(shared_data: Path) -> None:
    answer = real_answer(shared_data, "gpt-4", 155)  # "Water Lilies" by Claude Monet
    assert "Claude Monet" in "".join(answer)
    assert hygiene.identity_leak(answer, ["gpt-4", "alpaca-13b"], real_question(shared_data, 155)) is None


def test_the_battles_own_names_and_their_parts() -> None:
    models = ["vicuna-13b-hao-0515", "alpaca-13b"]
    assert hygiene.identity_leak(["Sure! As vicuna-13b-hao-0515, I think..."], models) is not None
    assert hygiene.identity_leak(["I'm an alpaca, trained to help"], models) is not None
    # "alpaca" is a common word: it flags only a battle alpaca-13b takes part in.
    assert hygiene.identity_leak(["I'm an alpaca, trained to help"], ["gpt-4", "koala-13b"]) is None
    # Word boundaries: chaos (h-a-o), grape, Claudette are not names.
    assert hygiene.identity_leak(["Chaos reigns; grapes ripen; Claudette sings."], models) is None


def test_clean_real_answers_are_not_flagged(shared_data: Path) -> None:
    # Question 81 (a travel blog post about Hawaii): none of these answers names a model or a maker.
    question = real_question(shared_data, 81)
    for stem in ("gpt-4", "claude-v1", "alpaca-13b", "vicuna-13b-v1.3"):
        assert hygiene.identity_leak(real_answer(shared_data, stem, 81), [stem, "llama-13b"], question) is None


def test_chance_agreement_of_a_uniform_random_voter_is_three_eighths() -> None:
    # Simulate the voter of the module doc: four buttons (A, B, tie, both bad) at random, twice on one battle,
    # sides swapped the second time; agreement = the same model chosen, or no winner both times.
    rng = np.random.default_rng(7)
    first, second = rng.integers(4, size=(2, 400_000))
    classes_first = np.select([first == 0, first == 1], ["x", "y"], "none")
    classes_second = np.select([second == 0, second == 1], ["y", "x"], "none")  # sides swapped
    simulated = float(np.mean(classes_first == classes_second))
    assert pytest.approx(3 / 8) == hygiene.CHANCE_AGREEMENT
    assert simulated == pytest.approx(3 / 8, abs=0.004)


def _upper_tail(k: int, n: int, p: float) -> float:
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))


@pytest.mark.parametrize(("agree", "checks"), [(3, 3), (4, 4), (5, 8), (7, 10), (2, 10)])
def test_consistency_p_value_is_the_exact_binomial_upper_tail(agree: int, checks: int) -> None:
    result = hygiene.consistency([("m", "m")] * agree + [("m", "")] * (checks - agree))
    expected = _upper_tail(agree, checks, 3 / 8)
    assert result.n_checks == checks and result.n_agree == agree
    assert result.p_value == pytest.approx(expected, rel=1e-9)
    assert result.better_than_chance == (expected < 0.05)


def test_three_perfect_repeats_are_not_enough_four_are() -> None:
    assert (3 / 8) ** 3 > 0.05 > (3 / 8) ** 4
    assert not hygiene.consistency([("a", "a")] * 3).better_than_chance
    assert hygiene.consistency([("a", "a")] * 4).better_than_chance
    assert "NOT better than chance" in hygiene.consistency([("a", "b")] * 6).describe()
    assert hygiene.consistency([]).p_value is None


def test_choice_classes_put_tie_and_both_bad_together() -> None:
    assert hygiene.choice_class("A", "x", "y") == "x"
    assert hygiene.choice_class("B", "x", "y") == "y"
    assert hygiene.choice_class("tie", "x", "y") == hygiene.choice_class("both_bad", "y", "x") == ""


def test_companies_give_a_model_away_only_as_its_maker() -> None:
    models = ["gpt-4", "alpaca-13b"]
    assert hygiene.identity_leak(["I am a large language model, trained by Google."], models) is not None
    assert hygiene.identity_leak(["I was developed by the team at Meta AI."], models) is not None
    assert hygiene.identity_leak(["Shares of Microsoft and Google rose 3% on Monday."], models) is None
    assert hygiene.identity_leak(["Palm trees line the beach; a llama grazes."], models) is None
