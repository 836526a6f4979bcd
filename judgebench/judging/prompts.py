"""jinja2 templates (StrictUndefined) -> chat messages.

A judge template defines two blocks, ``system`` and ``user``; each becomes one chat message (an empty
system block is left out). Answers are *untrusted*: ``neutralize`` defuses the verdict markers and the
answer delimiters inside them before rendering, so an answer cannot close its own frame or plant a verdict.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import math
import re
import sys
import traceback
from collections import OrderedDict
from collections.abc import Callable, Iterable, MutableMapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta
import jinja2.nodes
import jinja2.runtime
import orjson
from jinja2.loaders import split_template_path
from jinja2.sandbox import SecurityError

from ..errors import DataError, TaskError
from ..formats.common import decode
from . import budget as render_budget
from . import render_store
from .sandbox import BudgetedSandbox

Messages = tuple[tuple[str, str], ...]

# Sequences a judge's verdict or an answer's frame is made of. In answers they are broken up so that a
# judge that quotes an answer cannot be parsed as having given the answer's planted verdict.
# Invisible characters an answer could hide between the characters of a marker ("[\u200b[10]\u200b]").
INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_MARKERS = [
    (re.compile(r"[\[［]\s*[\[［]"), "[ ["),
    (re.compile(r"[\]］]\s*[\]］]"), "] ]"),
    # Chat-template markers of Llama, Mistral, Gemma and others: an answer must not end its own turn.
    (re.compile(r"\[(/?INST|/?SYS)\]", re.IGNORECASE), r"[ \1 ]"),
    (re.compile(r"<(/?s|/?(?:start|end)_of_turn|eos|bos|/?SYS)>", re.IGNORECASE), r"< \1 >"),
    (re.compile(r"<\|"), "< |"),
    (re.compile(r"\|>"), "| >"),
    (re.compile(r"\[(?=\s*the\s+(start|end)\s+of)", re.IGNORECASE), "("),
    (re.compile(r"</?\s*(answer|response|assistant_[ab]|reference)\s*>", re.IGNORECASE), "<tag>"),
]


# Every marker above holds one of these characters (and INVISIBLE's): text without any has nothing to defuse. One
# scan for them instead of nine substitutions over every answer of a run.
_MARKER_CHARACTERS = re.compile("[\\[\\]［］<|" + INVISIBLE.pattern.removeprefix("["))


def neutralize(text: str) -> str:
    """Defuse verdict markers, frame delimiters and chat-template markers in untrusted text (a candidate's
    answer), after removing the invisible characters that could split them."""
    if _MARKER_CHARACTERS.search(text) is None:
        return text
    text = INVISIBLE.sub("", text)
    for pattern, replacement in _MARKERS:
        text = pattern.sub(replacement, text)
    return text


# A double-quoted JSON string followed by a colon: an object key (its escapes decoded to compare it).
_JSON_KEY = re.compile(r'"((?:[^"\\]|\\.)*)"(\s*):')


def neutralize_keys(text: str, keys: Iterable[str]) -> str:
    """Rewrite every JSON object key in ``text`` that names one of ``keys`` (written with escapes or not) in single
    quotes, so the text holds no JSON object with such a key: a rubric judge's verdict object (criterion ids,
    ``met``) cannot be copied from an answer, and a verdict equal to an object the answer planted is the judge's own
    (judging.rubric)."""
    wanted = set(keys)

    def defuse(found: re.Match[str]) -> str:
        try:
            key = json.loads(f'"{found.group(1)}"', strict=False)
        except ValueError:
            return found.group(0)
        return f"'{found.group(1)}'{found.group(2)}:" if key in wanted else found.group(0)

    return _JSON_KEY.sub(defuse, text)


# A judge template is a page of text; anything much larger is not one (and would be read whole).
MAX_TEMPLATE_BYTES = 1 << 20


class _ConfinedLoader(jinja2.FileSystemLoader):
    """A FileSystemLoader that also refuses a template whose real path leaves its folder (a symlink to
    /etc/passwd in a task folder would otherwise be read and sent to the judge), anything but a regular file of at
    most 1 MB, and text that is not UTF-8 (a one-line error naming the file and line of the first bad byte)."""

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        pieces = split_template_path(template)
        found = next((Path(folder, *pieces) for folder in self.searchpath if Path(folder, *pieces).is_file()), None)
        if found is None:
            raise jinja2.TemplateNotFound(template)
        real = found.resolve()
        if not any(real.is_relative_to(Path(folder).resolve()) for folder in self.searchpath):
            raise jinja2.TemplateNotFound(template, f"{template!r} leads outside the template folders")
        try:
            if real.stat().st_size > MAX_TEMPLATE_BYTES:
                raise TaskError(f"{found}: a template may have at most {MAX_TEMPLATE_BYTES >> 20} MB; this is not a "
                                "judge template")
            data = real.read_bytes()
        except OSError as exc:
            raise TaskError(f"{found}: cannot read the template: {exc.strerror or exc}") from None
        try:
            source = decode(data, str(found))
        except DataError as exc:
            raise TaskError(str(exc)) from None
        mtime = real.stat().st_mtime

        def uptodate() -> bool:
            try:
                return real.stat().st_mtime == mtime
            except OSError:
                return False

        return source, str(found), uptodate

    def load(self, environment: jinja2.Environment, name: str,
             globals: MutableMapping[str, Any] | None = None) -> jinja2.Template:
        """jinja2's own ``load`` (there is no bytecode cache), keeping on the template the source it was compiled
        from: what it extends or includes, whether it is only blocks, and its content hash (the stored render's key)
        are read from that text, never from the file again (which may have changed since)."""
        source, filename, uptodate = self.get_source(environment, name)
        code = environment.compile(source, name, filename)
        template = environment.template_class.from_code(environment, code, {} if globals is None else globals,
                                                        uptodate)
        template._judgebench_source = source  # type: ignore[attr-defined]
        return template


def _source(template: jinja2.Template) -> str | None:
    """The source a template was compiled from (kept by ``_ConfinedLoader.load``)."""
    found: str | None = getattr(template, "_judgebench_source", None)
    return found


@lru_cache(maxsize=32)
def _environment(search_path: tuple[str, ...]) -> jinja2.Environment:
    # Task files and their templates are shared: a template must not reach Python's internals (and through them
    # os.popen), so templates render in jinja2's sandbox, which also keeps them from changing their arguments.
    return BudgetedSandbox(
        loader=_ConfinedLoader(list(search_path)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        autoescape=False,
    )


def _template_line(exc: BaseException, template: jinja2.Template) -> str:
    """file:line in the template source of the innermost template frame (a parent's, with {% extends %})."""
    environment = template.environment
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if not frame.filename.endswith((".jinja", ".j2", ".jinja2")) or frame.lineno is None:
            continue
        owner = template
        if frame.filename != template.filename:
            loader_name = Path(frame.filename).name
            with contextlib.suppress(jinja2.TemplateError):
                owner = environment.get_template(loader_name)
        return f"{frame.filename}:{owner.get_corresponding_lineno(frame.lineno)}"
    return template.filename or "<template>"


class TemplateMissing(TaskError):
    """A prompt template is in none of the folders templates are read from."""


def load_template(name: str, search_path: tuple[str, ...]) -> jinja2.Template:
    environment = _environment(search_path)
    # The templates this environment gave, by name: a render asks the one it had whether its file changed (one
    # stat, as jinja2's auto_reload does) without jinja2's cache look-up, its lock and its reordering. A changed
    # file is loaded afresh by jinja2, as before.
    loaded: dict[str, jinja2.Template] | None = getattr(environment, "_judgebench_loaded", None)
    if loaded is None:
        loaded = environment._judgebench_loaded = {}  # type: ignore[attr-defined]
    found = loaded.get(name)
    if found is not None and found.is_up_to_date:
        return found
    try:
        template = environment.get_template(name)
    except jinja2.TemplateNotFound as exc:
        raise TemplateMissing(f"prompt template {name!r} not found in {', '.join(search_path)}; put it in one of "
                              "those folders or correct its name") from exc
    except jinja2.TemplateSyntaxError as exc:
        raise TaskError(f"{exc.filename}:{exc.lineno}: template syntax error: {exc.message}") from exc
    except RecursionError:  # jinja2's parser and compiler recurse once a level of nesting
        where = next((str(Path(f, name)) for f in search_path if Path(f, name).is_file()), name)
        raise TaskError(f"{where}: the template nests too deeply (brackets or tags inside each other) to be read; "
                        "write it flatter") from None
    if len(loaded) >= _MOST_LOADED:
        loaded.clear()
    loaded[name] = template
    return template


_MOST_LOADED = 256  # templates remembered per environment (jinja2's own cache keeps 400)


def _render_error(exc: BaseException, template: jinja2.Template, variables: dict[str, Any],
                  search_path: tuple[str, ...]) -> TaskError:
    """A one-line TaskError naming the template's file:line for anything that went wrong while rendering."""
    if isinstance(exc, TaskError):  # a template it includes is unreadable: that error names its file
        return exc
    where = _template_line(exc, template)
    if isinstance(exc, (SecurityError, OverflowError, MemoryError)):
        return TaskError(f"{where}: refused by the template sandbox ({_one_line(exc)}); a judge template may only "
                         "use its variables and jinja2's filters, within its limits of time and size")
    if isinstance(exc, RecursionError):
        return TaskError(f"{where}: the template calls itself too deeply (a macro or a recursive loop that does not "
                         "end); give the recursion a condition that stops it")
    if isinstance(exc, jinja2.UndefinedError):
        return TaskError(f"{where}: {exc.message} (variables available: {', '.join(sorted(variables))})")
    if isinstance(exc, jinja2.TemplateNotFound):
        return TaskError(f"{where}: template {exc.name!r} not found in {', '.join(search_path)}")
    if isinstance(exc, jinja2.TemplateError):
        return TaskError(f"{where}: {_one_line(exc)}")
    return TaskError(f"{where}: the template failed: {type(exc).__name__}: {_one_line(exc)}")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


def _only_blocks(template: jinja2.Template) -> bool:
    """True when the template's top level is only blocks, plain text and comments: no {% extends %}, no
    {% set %}, nothing evaluated outside a block, so its blocks render the same without the root."""
    found: bool | None = getattr(template, "_judgebench_only_blocks", None)  # a reloaded file is a new object
    if found is None:
        source = _source(template)
        try:
            body = template.environment.parse(source).body if source is not None else None
        except (jinja2.TemplateSyntaxError, RecursionError):
            body = None
        found = body is not None and all(
            isinstance(node, jinja2.nodes.Block)
            or (isinstance(node, jinja2.nodes.Output)
                and all(isinstance(part, jinja2.nodes.TemplateData) for part in node.nodes))
            for node in body)
        template._judgebench_only_blocks = found  # type: ignore[attr-defined]
    return found


_MEMO_DEPTH = 32  # how deep a variable's lists and dicts may nest and still be remembered


def _plain(value: Any, depth: int = 0) -> bool:
    """True for a value whose JSON says how it renders: exactly str, int, bool, None, a finite float, and lists and
    str-keyed dicts of them. Anything else (a tuple renders as "(1, 2)" and writes the JSON of a list; NaN writes
    null; a subclass may print itself its own way) is rendered every time, never looked up."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return True
    if kind is float:
        return math.isfinite(value)
    if depth >= _MEMO_DEPTH:
        return False
    if kind is list:
        values: Iterable[Any] = value
    elif kind is dict:
        for key in value:
            if type(key) is not str:
                return False
        values = value.values()
    else:
        return False
    for inner in values:  # a loop, not all() over a generator: this runs for every render
        inner_kind = type(inner)
        if inner_kind is str or inner_kind is int or inner_kind is bool or inner is None:
            continue
        if not _plain(inner, depth + 1):
            return False
    return True


# jinja2's one filter whose output is not a function of its input: a template that may use it is never remembered.
_RANDOM = "random"


# Filters that call another filter named by their first argument (map("random")).
_BY_NAME = frozenset({"map", "select", "reject"})


def _draws_at_random(tree: jinja2.nodes.Template) -> bool:
    """Whether a template may call the ``random`` filter: as a filter (``|random``, ``{% filter random %}``), by
    name (``map("random")``: any constant that names it counts), or through a filter named by a variable."""
    for node in tree.find_all(jinja2.nodes.Filter):
        if node.name == _RANDOM or (node.name in _BY_NAME and node.args
                                    and not isinstance(node.args[0], jinja2.nodes.Const)):
            return True
    return any(node.value == _RANDOM for node in tree.find_all(jinja2.nodes.Const))


def _references(template: jinja2.Template) -> tuple[str, ...] | None:
    """The names of the templates this one extends, includes or imports (read from its source once per template
    object); None where a name is computed at render time, so what it loads cannot be known before, and where the
    template may draw at random (``_draws_at_random``): its renders are then not a function of their input."""
    found: tuple[str, ...] | bool | None = getattr(template, "_judgebench_references", False)
    if found is False:
        source = _source(template)
        try:
            tree = template.environment.parse(source) if source else None
            names = list(jinja2.meta.find_referenced_templates(tree)) if tree is not None else []
            found = None if any(n is None for n in names) else tuple(dict.fromkeys(n for n in names if n))
            if tree is not None and _draws_at_random(tree):
                found = None
        except (jinja2.TemplateSyntaxError, RecursionError):
            found = None
        if source is None:
            found = None
        template._judgebench_references = found  # type: ignore[attr-defined]
    return found  # type: ignore[return-value]


def _loaded_with(template: jinja2.Template, search_path: tuple[str, ...]) -> tuple[jinja2.Template, ...] | None:
    """The template and every template it reaches through {% extends %}, {% include %} and {% import %}, as loaded
    now (an edited file is a new object); None where that cannot be known (a computed name, a missing or unreadable
    file: the render then says why)."""
    found = [template]
    seen = {template.name}
    index = 0
    while index < len(found):
        names = _references(found[index])
        if names is None:
            return None
        for name in names:
            if name in seen:
                continue
            seen.add(name)
            if len(seen) > 64:
                return None
            try:
                found.append(load_template(name, search_path))
            except TaskError:
                return None
        index += 1
    return tuple(found)


def _variables_json(variables: dict[str, Any]) -> bytes | None:
    """The exact JSON of plain variables (``_plain``), keys in their order (a template that loops over a mapping
    writes them in that order); None for anything else, and for what JSON cannot hold exactly (an integer past 64
    bits, a lone surrogate): those are rendered every time."""
    if not _plain(variables):
        return None
    try:
        return orjson.dumps(variables)
    except orjson.JSONEncodeError:
        return None


# The modules whose code decides what a render writes: a stored render made by other code is not this code's.
_RENDER_CODE = ("prompts.py", "sandbox.py", "budget.py", "estimates.py")


@lru_cache(maxsize=1)
def _code_digest() -> bytes | None:
    """sha256 of the code that renders (these modules' source, jinja2's and markupsafe's versions, Python's); None
    where the source or a version cannot be read (then no render is stored)."""
    try:
        libraries = "\x1f".join(f"{name} {importlib.metadata.version(name)}" for name in ("jinja2", "markupsafe"))
    except importlib.metadata.PackageNotFoundError:
        return None
    digest = hashlib.sha256(f"judgebench-render-1\x1f{libraries}\x1fpython "
                            f"{sys.version_info[0]}.{sys.version_info[1]}".encode())
    for name in _RENDER_CODE:
        try:
            digest.update(b"\x1f" + Path(__file__).with_name(name).read_bytes())
        except OSError:
            return None
    return digest.digest()


def _content_digest(template: jinja2.Template) -> bytes | None:
    """sha256 of the source a template was compiled from (once per template object)."""
    found: bytes | None = getattr(template, "_judgebench_sha256", None)
    if found is None:
        source = _source(template)
        if source is None:
            return None
        found = hashlib.sha256(source.encode("utf-8", "surrogatepass")).digest()
        template._judgebench_sha256 = found  # type: ignore[attr-defined]
    return found


def stored_key(templates: tuple[jinja2.Template, ...], variables_json: bytes) -> bytes | None:
    """The key of a render in the store beside the request cache (judging.render_store): sha256 of the rendering
    code, then the number of templates the render reaches and each one's name and content hash (the template first,
    then what it extends, includes or imports), then the variables' exact JSON. None where a template's source is
    not known."""
    code = _code_digest()
    if code is None:
        return None
    digest = hashlib.sha256(code)
    digest.update(len(templates).to_bytes(4, "big"))
    for template in templates:
        content = _content_digest(template)
        if content is None or template.name is None:
            return None
        name = template.name.encode("utf-8", "surrogatepass")
        digest.update(len(name).to_bytes(4, "big") + name + content)
    digest.update(variables_json)
    return digest.digest()


class _Rendered:
    """The messages of the last renders, by template and input: the same input renders to the same messages (a
    render is a pure function of its templates and variables), so a panel's judges that share a prompt, a prompt
    rendered to check it before the run, or a kind asked for the same requests again, render it once. Bounded:
    the oldest entry goes first. Every template the render reaches (the file itself, what it extends, includes or
    imports) is part of the key, so an edited file (a new object) renders afresh; only plain values (``_plain``)
    are keyed by their JSON."""

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._found: OrderedDict[tuple[tuple[int, ...], bytes],
                                 tuple[tuple[jinja2.Template, ...], Messages]] = OrderedDict()

    @staticmethod
    def key(templates: tuple[jinja2.Template, ...], variables: dict[str, Any]) -> tuple[tuple[int, ...], bytes] | None:
        found = _variables_json(variables)
        return (tuple(id(t) for t in templates), found) if found is not None else None

    def get(self, key: tuple[tuple[int, ...], bytes], templates: tuple[jinja2.Template, ...]) -> Messages | None:
        found = self._found.get(key)
        if found is None or len(found[0]) != len(templates):
            return None
        if any(kept is not now for kept, now in zip(found[0], templates, strict=True)):
            return None
        self._found.move_to_end(key)
        return found[1]

    def put(self, key: tuple[tuple[int, ...], bytes], templates: tuple[jinja2.Template, ...],
            messages: Messages) -> None:
        self._found[key] = (templates, messages)
        if len(self._found) > self.size:
            self._found.popitem(last=False)


_RENDERED = _Rendered()


def render_messages(name: str, search_path: tuple[str, ...], variables: dict[str, Any]) -> Messages:
    """Render a template's ``system`` and ``user`` blocks into chat messages (in jinja2's sandbox, within one
    render's budget of time and size: see ``sandbox``), once per distinct input: remembered in this process
    (``_Rendered``) and, in a run, in the store beside its request cache (judging.render_store), so a rerun reads
    the prompts it rendered before."""
    template = load_template(name, search_path)
    templates = _loaded_with(template, search_path)
    key = _Rendered.key(templates, variables) if templates is not None else None
    if key is None or templates is None:
        return _render(template, search_path, variables)
    known = _RENDERED.get(key, templates)
    if known is not None:
        return known
    stored = stored_key(templates, key[1]) if render_store.current() is not None else None
    # No render within the sandbox's output limit (per message, as JSON: up to 6 bytes a character) is longer.
    most_bytes = 12 * (render_budget.OUTPUT_LIMIT + 4 * len(key[1]))
    messages = render_store.get(stored, most_bytes) if stored is not None else None
    if messages is None:
        messages = _render(template, search_path, variables)
        if stored is not None:
            render_store.put(stored, messages)
    _RENDERED.put(key, templates, messages)
    return messages


def _globals(template: jinja2.Template) -> dict[str, Any]:
    """A template's globals as one dict, made once per template object. jinja2 keeps them as a ChainMap (the
    template's own over its environment's), read key by key in Python for every new context (4.7 of its 6.5 us, for
    the same context): neither changes once the template is loaded (the environment's are set when it is made:
    sandbox.BudgetedSandbox; jinja2 adds to a template's own only when it is asked for with globals, and no one
    asks)."""
    found: dict[str, Any] | None = getattr(template, "_judgebench_globals", None)
    if found is None:
        found = template._judgebench_globals = dict(template.globals)  # type: ignore[attr-defined]
    return found


def _render(template: jinja2.Template, search_path: tuple[str, ...], variables: dict[str, Any]) -> Messages:
    messages: list[tuple[str, str]] = []
    # Template.new_context(variables), with the globals as a dict (``_globals``): the same context.
    context = jinja2.runtime.new_context(template.environment, template.name, template.blocks, variables, False,
                                         _globals(template), None)
    token = render_budget.start(variables)
    try:
        written = _Written(render_budget.budget().output_limit)
        # Rendering the root once resolves {% extends %}, so context.blocks holds the most derived version of
        # every block, the parents' included. A template that is nothing but blocks and plain text needs no root
        # render (it would render every block a second time).
        if not _only_blocks(template):
            written.text(template.root_render_func(context))
        for role in ("system", "user"):
            stack = context.blocks.get(role)
            text = written.text(stack[0](context)).strip() if stack else ""
            if text:
                messages.append((role, _tidy(text)))
    except Exception as exc:
        raise _render_error(exc, template, variables, search_path) from None
    finally:
        render_budget.stop(token)
    if not any(role == "user" for role, _ in messages):
        raise TaskError(f"{template.filename}:1: the template renders no {{% block user %}}: a judge template "
                        "needs one (and may have a {% block system %})")
    return tuple(messages)


class _Written:
    """The text one render writes, all of its blocks together, refused past the budget's limit as it grows."""

    def __init__(self, limit: int) -> None:
        self.left = limit

    def text(self, chunks: Iterable[str]) -> str:
        pieces: list[str] = []
        keep = pieces.append
        left = self.left
        try:
            for chunk in chunks:
                left -= len(chunk)
                if left < 0:
                    raise SecurityError("a template may write at most "
                                        f"{render_budget.budget().output_limit:,} characters in one render")
                keep(chunk)
        finally:
            self.left = left
        return "".join(pieces)


# Three newlines, then any more: the same runs as ``\n{3,}``, but a pattern that starts with a literal string is found
# by a fast search for it, not tried at every position (4.4 -> 0.5 us over a 650-character system message, measured).
_BLANK_LINES = re.compile(r"\n\n\n+")


def _tidy(text: str) -> str:
    """Collapse the blank lines that template tags leave behind (three or more newlines -> two)."""
    return _BLANK_LINES.sub("\n\n", text) if "\n\n\n" in text else text


def template_hash(name: str, search_path: tuple[str, ...]) -> str:
    """sha256 of a template's source, for the reproducibility manifest."""
    template = load_template(name, search_path)
    source = Path(template.filename).read_text(encoding="utf-8") if template.filename else ""
    return hashlib.sha256(source.encode()).hexdigest()
