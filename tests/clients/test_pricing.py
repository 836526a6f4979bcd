"""The price table: the built-in file, lookups (exact, then the longest snapshot prefix), a user's file replacing and
adding entries, which endpoints the built-in table prices, and malformed files named by file:line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from judgebench.cli import main
from judgebench.clients.pricing import builtin_path, builtin_prices, cost, is_provider_api, load_prices
from judgebench.errors import ConfigError
from judgebench.types import Endpoint


def _published() -> dict[str, dict[str, float]]:
    """The built-in file read with plain PyYAML, independently of our parser."""
    return yaml.safe_load(builtin_path().read_text(encoding="utf-8"))["models"]


def test_the_builtin_table_parses_to_what_the_file_says_and_batch_is_half() -> None:
    published = _published()
    table = builtin_prices()
    assert {e.model for e in table.entries} == set(published)
    for entry in table.entries:
        row = published[entry.model]
        assert (entry.price.input, entry.price.output) == (row["input"], row["output"])
        # OpenAI's Batch API and Anthropic's Message Batches both charge half.
        assert entry.price.batch_input == pytest.approx(row["input"] / 2)
        assert entry.price.batch_output == pytest.approx(row["output"] / 2)
        assert entry.builtin and entry.source.startswith("judgebench/builtin/prices.yaml:")
    header = builtin_path().read_text(encoding="utf-8").split("models:")[0]
    assert "openai.com" in header and "anthropic.com" in header and "CHECK" in header and "2026-" in header


@pytest.mark.parametrize(("model", "entry"), [
    ("gpt-4o", "gpt-4o"),
    ("gpt-4o-2024-08-06", "gpt-4o"),
    ("gpt-4o-2024-05-13", "gpt-4o-2024-05-13"),  # exact beats prefix: the older snapshot has its own price
    ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),  # longest prefix, not gpt-4o
    ("claude-sonnet-4-20250514", "claude-sonnet-4"),
    ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
    ("claude-3-5-sonnet@20240620", "claude-3-5-sonnet"),
    ("gpt-4-0613", "gpt-4"),
])
def test_lookup_by_exact_name_then_longest_prefix(model: str, entry: str) -> None:
    found = builtin_prices().lookup(model)
    assert found is not None and found.model == entry


@pytest.mark.parametrize("model", ["gpt-4o1", "gpt-4.5-preview", "gpt-5.2", "llama-3-8b", "GPT-4O", "o"])
def test_a_prefix_counts_only_up_to_a_boundary(model: str) -> None:
    """gpt-4.5 is not gpt-4, gpt-5.2 is not gpt-5 (nor gpt-5.1): '.' and letters are no snapshot boundary."""
    assert builtin_prices().lookup(model) is None
    assert cost(model, 1000, 1000) == 0.0


def test_cost_is_tokens_times_the_price_per_million() -> None:
    row = _published()["gpt-4o-mini"]
    assert cost("gpt-4o-mini-2024-07-18", 12_345, 678) == pytest.approx((12_345 * row["input"] + 678 * row["output"])
                                                                        / 1e6)
    assert cost("gpt-4o-mini", 12_345, 678, batch=True) == pytest.approx(
        (12_345 * row["batch_input"] + 678 * row["batch_output"]) / 1e6)


def test_only_the_providers_own_apis_get_the_builtin_prices(tmp_path: Path) -> None:
    official = Endpoint(provider="openai", name="gpt-4o", model="gpt-4o", base_url="https://api.openai.com/v1")
    served = Endpoint(provider="openai", name="gpt-4o", model="gpt-4o", base_url="http://127.0.0.1:8000/v1")
    claude = Endpoint(provider="anthropic", name="c", model="claude-3-haiku-20240307")
    local = Endpoint(provider="local", name="smollm2-135m-instruct", model="smollm2-135m-instruct",
                     base_url="http://127.0.0.1:5000/v1")
    assert [is_provider_api(e) for e in (official, served, claude, local)] == [True, False, True, False]
    table = builtin_prices()
    assert table.for_endpoint(official) is not None and table.for_endpoint(claude) is not None
    assert table.for_endpoint(served) is None and table.for_endpoint(local) is None
    # ... unless the user's table says otherwise: its entries price any endpoint.
    mine = tmp_path / "prices.yaml"
    mine.write_text("models:\n  gpt-4o: {input: 1, output: 2}\n  smollm2-135m-instruct: {input: 0.01, output: 0.02}\n")
    user = load_prices(mine)
    served_price = user.for_endpoint(served)
    assert served_price is not None and served_price.price.output == 2 and served_price.source == f"{mine}:2"
    local_price = user.for_endpoint(local)
    assert local_price is not None and local_price.price.input == 0.01


def test_a_user_file_replaces_and_adds_entries_and_changes_the_hash(tmp_path: Path) -> None:
    mine = tmp_path / "prices.yaml"
    mine.write_text("# my prices\nmodels:\n  gpt-4o:\n    input: 2.0\n    output: 8\n"
                    "  my-model: {input: 0.5, output: 1.5, batch_input: 0.1, batch_output: 0.2}\n", encoding="utf-8")
    builtin = builtin_prices()
    table = load_prices(mine)
    gpt = table.lookup("gpt-4o-2024-11-20")
    assert gpt is not None and gpt.source == f"{mine}:4" and not gpt.builtin
    # Without batch prices, a batch is charged the standard price.
    assert (gpt.price.input, gpt.price.output, gpt.price.batch_input, gpt.price.batch_output) == (2.0, 8.0, 2.0, 8.0)
    mine_entry = table.lookup("my-model")
    assert mine_entry is not None and mine_entry.price.batch_output == 0.2
    untouched = table.lookup("gpt-4o-mini")
    assert untouched is not None and untouched.builtin
    assert len(table.entries) == len(builtin.entries) + 1
    assert table.sha256 != builtin.sha256 and table.files == (str(mine),)
    assert load_prices(None).sha256 == builtin.sha256


@pytest.mark.parametrize(("text", "line", "words"), [
    ("models:\n  gpt-4o: {input: 1, outptu: 2}\n", 2, "unknown field 'outptu'"),
    ("models:\n  gpt-4o:\n    input: 1\n    output: cheap\n", 4, "output must be a number"),
    ("models:\n  gpt-4o: {input: '1', output: 2}\n", 2, "input must be a number"),
    ("models:\n  gpt-4o: {input: -1, output: 2}\n", 2, "0 or more"),
    ("models:\n  gpt-4o: {input: .inf, output: 2}\n", 2, "must be a number"),
    ("models:\n  gpt-4o: {input: [1], output: 2}\n", 2, "must be a number"),
    ("models:\n  a: {input: 1, output: 2}\n\n  gpt-4o: {input: 1}\n", 4, "output missing"),
    ("models:\n  gpt-4o: {input: 1, output: 2}\n  gpt-4o: {input: 1, output: 3}\n", 3, "appears twice (first at"),
    ("models:\n  gpt-4o: 2.5\n", 2, "expected 'models:'"),
    ("models:\n  gpt-4o: {input: 1, output: 2\n", 3, "YAML syntax error"),
    ("gpt-4o: {input: 1, output: 2}\n", 1, "unknown key 'gpt-4o'"),
    ("models: [gpt-4o]\n", 1, "expected 'models:'"),
    ("", 1, "empty"),
])
def test_a_malformed_price_file_is_one_error_naming_file_and_line(tmp_path: Path, text: str, line: int,
                                                                  words: str) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_prices(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: ") and words in message and "\n" not in message


def test_the_cli_prints_a_bad_price_file_as_one_line_before_doing_anything(tmp_path: Path) -> None:
    path = tmp_path / "prices.yaml"
    path.write_bytes(b"models:\n  gpt-4o: {input: 1, output: \xff}\n")
    out = tmp_path / "results"
    result = CliRunner().invoke(main, ["run", "--model", "m@http://127.0.0.1:9/v1", "--judge", "j@http://127.0.0.1:9/v1",
                                       "--prices", str(path), "--out", str(out)])
    assert result.exit_code == 1 and not out.exists()
    (line,) = [line for line in result.output.splitlines() if line.strip()]
    assert line.startswith(f"Error: {path}:2: not UTF-8 text")


def test_add_tokens_counts_a_reply_in_each_counter_and_none_as_zero() -> None:
    from judgebench.clients.pricing import add_tokens
    from judgebench.run.runner import Counters
    from judgebench.types import ChatReply

    run, endpoint = Counters(), Counters()
    add_tokens(ChatReply(text="x", prompt_tokens=12, completion_tokens=3), run, endpoint)
    add_tokens(ChatReply(text="y", prompt_tokens=None, completion_tokens=None), run)
    assert (run.prompt_tokens, run.completion_tokens) == (12, 3) == (endpoint.prompt_tokens, endpoint.completion_tokens)
