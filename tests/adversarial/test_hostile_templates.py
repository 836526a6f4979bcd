"""A shared template must not hang or exhaust the process, whatever filter, method, operator, loop or macro builds its
text: each case ends as a one-line error naming the template's file:line, fast and in little memory."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from judgebench.cli import main
from judgebench.errors import TaskError
from judgebench.judging.prompts import render_messages
from tests.adversarial.test_task_files import TASK  # the same one-item task, its template evil.jinja

REFUSED = r"evil\.jinja:\d+: refused by the template sandbox"


def render(folder: Path, body: str) -> str:
    (folder / "evil.jinja").write_text("{% block user %}" + body + "{{ turns }}{% endblock %}")
    return render_messages("evil.jinja", (str(folder),), {"turns": ["hi"]})[0][1]


def refused(folder: Path, body: str, pattern: str = REFUSED) -> None:
    with pytest.raises(TaskError, match=pattern) as caught:
        render(folder, body)
    assert "\n" not in str(caught.value)


def validate(folder: Path, body: str) -> tuple[int, str]:
    (folder / "evil.jinja").write_text("{% block user %}" + body + "{{ turns }}{% endblock %}")
    (folder / "t.yaml").write_text(TASK)
    result = CliRunner().invoke(main, ["validate", str(folder / "t.yaml")])
    return result.exit_code, result.output


def test_center_by_six_billion_is_refused_at_validate_in_one_line(tmp_path: Path) -> None:
    code, output = validate(tmp_path, "{{ 'x'|center(6000000000) }}")
    assert code == 1 and output.count("\n") == 1
    assert "evil.jinja:1: refused by the template sandbox" in output and "center" in output


def test_a_printf_width_in_the_format_filter_is_refused(tmp_path: Path) -> None:
    refused(tmp_path, "{{ '%2000000000d'|format(1) }}")


def test_a_printf_width_with_the_percent_operator_is_refused(tmp_path: Path) -> None:
    refused(tmp_path, "{{ '%2000000000d' % 1 }}")


def test_a_printf_precision_is_refused(tmp_path: Path) -> None:
    refused(tmp_path, "{{ '%.2000000000f' % 1.5 }}")


def test_a_printf_width_given_by_a_star_is_refused(tmp_path: Path) -> None:
    refused(tmp_path, "{{ '%*d' % (2000000000, 1) }}")


def test_a_str_format_width_is_refused(tmp_path: Path) -> None:
    refused(tmp_path, "{{ '{:>2000000000}'.format(1) }}")


def test_a_str_format_width_given_as_an_argument_is_refused(tmp_path: Path) -> None:
    refused(tmp_path, "{{ '{:{}}'.format(1, 2000000000) }}")


def test_a_format_map_width_is_refused(tmp_path: Path) -> None:
    refused(tmp_path, "{{ '{x:>2000000000}'.format_map({'x': 1}) }}")


def test_a_str_format_repeating_a_long_argument_is_refused(tmp_path: Path) -> None:
    refused(tmp_path, "{% set s = 'x' * 90000 %}{{ ('{0}' * 90000).format(s)|length }}")


def test_indent_by_two_billion_is_refused(tmp_path: Path) -> None:
    refused(tmp_path, "{{ 'a\nb'|indent(2000000000) }}")


def test_indent_of_many_lines_by_a_long_prefix_is_refused(tmp_path: Path) -> None:
    refused(tmp_path, "{% set s = '\n' * 90000 %}{{ s|indent('x' * 90000)|length }}")


def test_ljust_is_refused(tmp_path: Path) -> None:
    refused(tmp_path, "{{ 'x'.ljust(2000000000) }}")


def test_rjust_is_refused(tmp_path: Path) -> None:
    refused(tmp_path, "{{ 'x'.rjust(2000000000) }}")


def test_zfill_is_refused(tmp_path: Path) -> None:
    refused(tmp_path, "{{ 'x'.zfill(2000000000) }}")


def test_expandtabs_is_refused(tmp_path: Path) -> None:
    refused(tmp_path, "{% set s = '\t' * 90000 %}{{ s.expandtabs(90000)|length }}")


def test_replace_doubling_in_a_loop_is_refused(tmp_path: Path) -> None:
    refused(tmp_path, "{% set ns = namespace(s='xx') %}{% for i in range(64) %}"
                      "{% set ns.s = ns.s|replace('x', 'xx') %}{% endfor %}{{ ns.s|length }}")


def test_replace_method_with_a_long_string_is_refused(tmp_path: Path) -> None:
    refused(tmp_path, "{% set s = 'x' * 90000 %}{{ s.replace('', s)|length }}")


def test_join_with_a_long_separator_is_refused(tmp_path: Path) -> None:
    refused(tmp_path, "{% set s = 'x' * 90000 %}{{ s.join(s)|length }}")


def test_join_filter_with_a_long_separator_is_refused(tmp_path: Path) -> None:
    refused(tmp_path, "{% set s = 'x' * 90000 %}{{ s|join(s)|length }}")


def test_join_of_a_generator_with_a_long_separator_is_refused(tmp_path: Path) -> None:
    refused(tmp_path, "{% set s = 'x' * 90000 %}{{ s|map('upper')|join(s)|length }}")


def test_wordwrap_with_a_long_wrapstring_is_refused(tmp_path: Path) -> None:
    refused(tmp_path, "{% set s = 'x ' * 45000 %}{{ s|wordwrap(1, wrapstring='y' * 90000)|length }}")


def test_wordwrap_of_a_long_text_is_refused_before_it_runs_for_seconds(tmp_path: Path) -> None:
    refused(tmp_path, "{% set s = 'x' * 400000 %}{{ s|wordwrap(1)|length }}")


def test_translate_to_long_strings_is_refused(tmp_path: Path) -> None:
    refused(tmp_path, "{% set s = 'a' * 90000 %}{{ s.translate({97: s})|length }}")


def test_batch_filling_two_billion_is_refused(tmp_path: Path) -> None:
    refused(tmp_path, "{{ [1]|batch(2000000000, 'x')|list|length }}")


def test_tojson_with_a_huge_indent_is_refused(tmp_path: Path) -> None:
    refused(tmp_path, "{% set s = ['x'] * 90000 %}{{ s|tojson(indent=90000)|length }}")


def test_int_to_bytes_of_two_billion_is_refused(tmp_path: Path) -> None:
    refused(tmp_path, "{{ (1).to_bytes(2000000000, 'big')|length }}")


def test_summing_many_lists_is_refused(tmp_path: Path) -> None:
    refused(tmp_path, "{% set l = [[1]] * 90000 %}{{ l|sum(start=[])|length }}")


def test_lipsum_is_not_available(tmp_path: Path) -> None:
    refused(tmp_path, "{{ lipsum(3000000) }}", r"evil\.jinja:1: 'lipsum' is undefined")


def test_nested_loops_over_a_string_are_refused(tmp_path: Path) -> None:
    refused(tmp_path, "{% set s = 'x' * 90000 %}{% for a in s %}{% for b in s %}{% for c in s %}{% endfor %}"
                      "{% endfor %}{% endfor %}")


def test_nested_loops_over_a_generator_are_refused(tmp_path: Path) -> None:
    refused(tmp_path, "{% set s = 'x' * 9000 %}{% for a in s|map('upper') %}{% for b in s|map('lower') %}"
                      "{% endfor %}{% endfor %}")


def test_tilde_doubling_in_a_loop_is_refused(tmp_path: Path) -> None:
    refused(tmp_path, "{% set ns = namespace(s='xx') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}"
                      "{% endfor %}")


def test_plus_doubling_in_a_loop_is_refused(tmp_path: Path) -> None:
    refused(tmp_path, "{% set ns = namespace(s='xx') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}"
                      "{% endfor %}")


def test_a_captured_block_doubling_in_a_loop_is_refused(tmp_path: Path) -> None:
    refused(tmp_path, "{% set ns = namespace(s='xx') %}{% for i in range(64) %}{% set t %}{{ ns.s }}{{ ns.s }}"
                      "{% endset %}{% set ns.s = t %}{% endfor %}")


def test_a_list_doubling_by_sharing_itself_is_refused_before_it_is_printed(tmp_path: Path) -> None:
    refused(tmp_path, "{% set ns = namespace(s=[1]) %}{% for i in range(64) %}{% set ns.s = [ns.s, ns.s] %}"
                      "{% endfor %}{{ ns.s }}")


def test_repeated_powers_are_refused(tmp_path: Path) -> None:
    refused(tmp_path, "{% set ns = namespace(n=3) %}{% for i in range(40) %}{% set ns.n = ns.n ** 64 %}{% endfor %}")


def test_writing_a_long_string_many_times_is_refused(tmp_path: Path) -> None:
    refused(tmp_path, "{% set s = 'x' * 90000 %}{% for i in range(200) %}{{ s }}{% endfor %}")


def test_a_loop_writing_long_plain_text_many_times_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TaskError, match=r"evil\.jinja: refused by the template sandbox \(a template may write at most"):
        render(tmp_path, "{% for i in range(100000) %}" + "x" * 100 + "{% endfor %}")


def test_a_macro_writing_a_long_string_many_times_is_refused(tmp_path: Path) -> None:
    refused(tmp_path, "{% macro m() %}{% for i in range(200) %}{{ 'x' * 90000 }}{% endfor %}{% endmacro %}{{ m() }}")


def test_an_exponential_macro_is_refused(tmp_path: Path) -> None:
    refused(tmp_path, "{% macro m(n) %}{% if n %}{{ m(n - 1) }}{{ m(n - 1) }}{% endif %}{% endmacro %}{{ m(60) }}")


def test_a_recursive_macro_is_a_one_line_error_with_its_line_not_an_internal_error(tmp_path: Path) -> None:
    code, output = validate(tmp_path, "\n{% macro m(n) %}{{ m(n) }}{% endmacro %}{{ m(1) }}")
    assert code == 1 and output.count("\n") == 1, output
    assert "evil.jinja:2: the template calls itself too deeply" in output and "internal error" not in output


def test_a_recursive_loop_that_never_ends_is_a_one_line_error(tmp_path: Path) -> None:
    refused(tmp_path, "{% for x in [1, 2] recursive %}{{ loop([1, 2]) }}{% endfor %}",
            r"evil\.jinja:1: the template calls itself too deeply")


def test_a_wide_recursive_loop_is_refused(tmp_path: Path) -> None:
    refused(tmp_path, "{% set l = [0] * 90000 %}{% for x in [1, 2] recursive %}{% if loop.depth < 9 %}"
                      "{{ loop(l) }}{% endif %}{% endfor %}")


def test_a_template_nested_too_deeply_to_parse_is_a_one_line_error(tmp_path: Path) -> None:
    refused(tmp_path, "{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}", r"evil\.jinja: the template nests too deeply")


def test_a_division_by_zero_is_a_one_line_error_with_its_line(tmp_path: Path) -> None:
    refused(tmp_path, "\n\n{{ 1 // 0 }}", r"evil\.jinja:3: the template failed: ZeroDivisionError")


def test_a_latin1_template_is_a_one_line_error_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "evil.jinja").write_bytes("{% block user %}\nCaf\u00e9 {{ turns }}{% endblock %}".encode("latin-1"))
    (tmp_path / "t.yaml").write_text(TASK)
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "t.yaml")])
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert f"{tmp_path / 'evil.jinja'}:2: not UTF-8 text (byte 0xe9)" in result.output


def test_a_template_that_is_a_device_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "evil.jinja").symlink_to("/dev/zero")
    (tmp_path / "t.yaml").write_text(TASK)
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "t.yaml")])
    assert result.exit_code == 1 and "t.yaml:4: prompt template 'evil.jinja' not found" in result.output


def test_everyday_filters_and_formats_still_render(tmp_path: Path) -> None:
    text = render(tmp_path, "|{{ 'ab'|center(6) }}|{{ '%5.2f' % 3.14159 }}|{{ '{:>4}'.format('a') }}|"
                            "{{ ['a', 'b']|join(', ') }}|{{ 'a\nb'|indent(2) }}|{{ 'x' ~ 'y' }}|"
                            "{% for i in range(3) %}{{ i }}{% endfor %}|{{ ('q' * 3)|replace('q', 'w') }}|")
    assert text == "|  ab  | 3.14|   a|a, b|a\n  b|xy|012|www|['hi']"
