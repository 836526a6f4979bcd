"""The endpoint and judge specification grammar, and a reachability check before any work starts.

    model spec:  NAME@URL[,URL...] | NAME@openai | NAME@anthropic | local | vllm:HF_ID | sglang:HF_ID
                 | llamacpp:PATH.gguf      (several URLs: replicas of one server)
    judge spec:  MODEL_SPEC[#MODE][,SETTING...]        MODE: json (a JSON-schema verdict) or text ([[8]])
                 SETTING: t=TEMPERATURE | key_env=VARIABLE | logprobs

Commas separate both a model's replica URLs and a judge's settings; the first item of the form WORD=VALUE, or the
word logprobs, begins the settings (a URL starts with http:// or https://, never so), so
``j@http://a/v1,http://b/v1,t=0.7`` is two
replicas at temperature 0.7 and ``j@http://a/v1,t=0.7`` one server. The mode, when given, comes before the
settings: ``j@http://a/v1#json,t=0.7``.

``local`` is the embedded llama.cpp server, which the caller starts (its URL is known only then), as it starts
the servers that ``vllm:``, ``sglang:`` and ``llamacpp:`` specs name (judgebench.clients.serve).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import os
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from urllib.parse import urlsplit, urlunsplit

from .. import credentials
from ..aio import run_sync
from ..errors import ConfigError, closest
from ..types import Endpoint, Judge
from ..version import __version__
from .providers import BY_HOST, OPENAI, SERVER_HINT, by_host, provider_of

# Named providers (clients.providers) read their key (and OpenAI its base URL) from the environment as their SDKs
# do; a server given by URL gets a key only when one is named for it, so a key meant for OpenAI never reaches a
# third party. A server given by URL speaks OpenAI's protocol.
URL_PROVIDER = OPENAI


def _shown(spec: str) -> str:
    """A spec as an error message may show it: credentials and query strings (where secrets hide) masked."""
    return re.sub(r"\?[^,#]*", "?...", re.sub(r"//[^/,]*@", "//...@", spec))


def _strip_credentials(url: str, role: str = "model") -> str:
    """The URL, checked: no credentials, no query or fragment (where keys hide), a host and a valid port. The
    messages never repeat the URL: it may hold a secret."""
    try:
        parts = urlsplit(url)
        port = parts.port
        host = parts.hostname
    except ValueError as exc:
        raise ConfigError(f"--{role}: a server URL is malformed ({exc}); expected e.g. http://127.0.0.1:8000/v1") \
            from None
    if parts.username or parts.password or "@" in parts.netloc:
        raise ConfigError(f"--{role}: put credentials in the environment (key_env=VAR), not in the URL "
                          f"(host {host})")
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise ConfigError(f"--{role}: a server URL takes no query string or fragment (host {host}); put a key in "
                          "the environment and name it with key_env=VAR")
    if not host:
        raise ConfigError(f"--{role}: a server URL needs a host, e.g. http://127.0.0.1:8000/v1")
    del port
    return urlunsplit(parts)


def parse_endpoint(spec: str, *, role: str, concurrency: int, key_env: str | None = None) -> Endpoint:
    """``NAME@URL`` (any OpenAI-compatible server), ``NAME@openai``, ``NAME@anthropic``. ``NAME@URL1,URL2,...``
    names replicas of one server: requests are spread over them (run.replicas).

    Keys: ``NAME@openai`` uses OPENAI_API_KEY and OPENAI_BASE_URL, ``NAME@anthropic`` ANTHROPIC_API_KEY (as the
    SDKs do), unless ``key_env`` names another variable; ``NAME@URL`` sends a key only when ``key_env`` names
    one. Only the variable's name is kept.
    """
    if "@" not in spec:
        raise ConfigError(f"--{role} {_shown(spec)!r}: expected NAME@URL, e.g. qwen2.5-7b@http://127.0.0.1:8000/v1, "
                          f"gpt-4o@openai or claude-sonnet-4@anthropic (or 'local' for the embedded model, or "
                          f"vllm:HF_ID, sglang:HF_ID, llamacpp:PATH.gguf for a model judgebench serves)")
    # The name ends at the '@' before the URL: a URL may itself hold an '@' (credentials, which are refused).
    at_url = re.search(r"@(?=https?://)", spec)
    if at_url is not None:
        name, where = spec[:at_url.start()], spec[at_url.end():]
    else:
        name, _, where = spec.rpartition("@")
    if not name:
        raise ConfigError(f"--{role} {_shown(spec)!r}: the model name before '@' is empty")
    env: str | None
    replicas: tuple[str, ...] = ()
    named = by_host(where)
    if named is not None:
        provider, base_url = named.name, named.base_url()
        env = key_env or named.key_env
    elif where.startswith(("http://", "https://")):
        urls = [u.strip().rstrip("/") for u in where.split(",")]
        bad = [u for u in urls if not u.startswith(("http://", "https://"))]
        if bad:
            hint = "; t= and key_env= are a judge's settings (--judge NAME@URL,t=0.7)" if "=" in bad[0] else ""
            raise ConfigError(f"--{role} {_shown(spec)!r}: replicas are URLs separated by commas "
                              f"(NAME@http://a:8000/v1,http://b:8000/v1); {_shown(bad[0])!r} is not one{hint}")
        if len(set(urls)) != len(urls):
            raise ConfigError(f"--{role} {_shown(spec)!r}: a replica URL is given twice")
        provider, base_url = URL_PROVIDER.name, _strip_credentials(urls[0], role)
        replicas = tuple(_strip_credentials(u, role) for u in urls[1:])
        env = key_env
    else:
        close = closest(where, BY_HOST)
        hint = f" (did you mean {close!r}?)" if close else ""
        raise ConfigError(f"--{role} {_shown(spec)!r}: {where!r} is not a URL (http://...) nor one of "
                          f"{', '.join(BY_HOST)}{hint}")
    if env is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", env):
        raise ConfigError(f"--{role} {_shown(spec)!r}: key_env names an environment variable, like MY_API_KEY")
    credentials.register(env)
    return Endpoint(provider=provider, name=name, model=name, base_url=base_url,  # type: ignore[arg-type]
                    api_key_env=env, concurrency=concurrency, replicas=replicas)


LOCAL = "local"
VERDICT_MODES = ("json", "text", "auto")


# A setting is WORD=VALUE or a bare word (logprobs, or a misspelling of a setting, answered as one); a replica's
# URL is never either.
_SETTING = re.compile(r"\s*[A-Za-z_]\w*\s*(?:=|$)")


@dataclass(frozen=True)
class JudgeSpecParts:
    """A judge spec cut into its model spec, its verdict mode (None: not given) and its settings (``t=0.7``)."""

    base: str
    mode: str | None
    settings: tuple[str, ...]


def split_judge_spec(spec: str) -> JudgeSpecParts:
    """``MODEL_SPEC[#MODE][,SETTING...]`` -> its parts (the module's docstring says how commas are told apart)."""
    head, hash_sign, tail = spec.partition("#")
    items = head.split(",")
    first = next((i for i, item in enumerate(items) if i and _SETTING.match(item)), len(items))
    base, settings = ",".join(items[:first]), [item.strip() for item in items[first:]]
    if not hash_sign:
        return JudgeSpecParts(base, None, tuple(settings))
    if settings:
        raise ConfigError(f"--judge {_shown(spec)!r}: the verdict mode comes before the settings, e.g. "
                          "NAME@URL#json,t=0.7")
    mode, *after = tail.split(",")
    return JudgeSpecParts(base, mode.strip(), tuple(item.strip() for item in after))


def judge_base(spec: str) -> str:
    """The model part of a judge spec (without its mode and settings)."""
    return split_judge_spec(spec).base


def is_local(spec: str) -> bool:
    return judge_base(spec) == LOCAL


def parse_judge(spec: str, *, default_mode: str = "auto", concurrency: int = 4, key_env: str | None = None,
                local: Endpoint | None = None, served: Mapping[str, Endpoint] | None = None) -> Judge:
    """``NAME@URL#json,t=0.7`` -> Judge. ``auto`` picks JSON verdicts on the embedded server, free text elsewhere.
    The judge's name is the model's name with the options it was given, so two configurations of one model on a
    panel stay apart. ``served``: the endpoints of the servers judgebench started (judgebench.clients.serve), by the
    spec text that named them (``vllm:Qwen/Qwen2.5-7B-Instruct``)."""
    parts = split_judge_spec(spec)
    base, settings = parts.base, parts.settings
    mode = parts.mode or default_mode
    if mode not in VERDICT_MODES:
        raise ConfigError(f"--judge {_shown(spec)!r}: the verdict mode after '#' must be json or text")
    chosen = _judge_settings(spec, settings)
    key_env = chosen.key_env or key_env
    if served is not None and base in served:
        endpoint = served[base]
    elif base == LOCAL:
        if local is None:
            raise ConfigError(f"--judge {_shown(spec)!r}: the embedded server is not running")
        endpoint = local
    else:
        endpoint = parse_endpoint(base, role="judge", concurrency=concurrency, key_env=key_env)
    constrained = provider_of(endpoint).local if mode == "auto" else mode == "json"
    if chosen.logprobs and not provider_of(endpoint).logprobs:
        raise ConfigError(f"--judge {_shown(spec)!r}: logprobs needs an OpenAI-compatible server (vLLM, SGLang, "
                          f"llama.cpp, OpenAI); {endpoint.provider} gives none: drop ',logprobs'")
    if chosen.logprobs and not constrained:
        # The probability-weighted grade is read at the score of a JSON verdict; a free-text verdict has none.
        raise ConfigError(f"--judge {_shown(spec)!r}: logprobs weighs a JSON verdict's grade: add #json "
                          "(e.g. j@http://host/v1#json,logprobs) or drop ',logprobs'")
    # The judge's name carries its verdict mode and settings in one order (never where its key is), so one
    # configuration has one name however its settings were written.
    shown = (f",t={chosen.temperature_text}" if chosen.temperature_text is not None else "") + \
        (",logprobs" if chosen.logprobs else "") + (f",repeats={chosen.repeats}" if chosen.repeats > 1 else "")
    suffix = f"#{parts.mode}{shown}" if parts.mode is not None else shown
    return Judge(name=f"{endpoint.name}{suffix}", endpoint=endpoint, constrained=constrained,
                 temperature=chosen.temperature, logprobs=chosen.logprobs, repeats=chosen.repeats)


@dataclass(frozen=True)
class _JudgeSettings:
    """What a judge spec's settings say: t=TEMPERATURE (and its text, for the judge's name), key_env, logprobs,
    repeats=K."""

    temperature: float | None = None
    temperature_text: str | None = None
    key_env: str | None = None
    logprobs: bool = False
    repeats: int = 1


_SETTING_NAMES = ("t", "key_env", "logprobs", "repeats")
# The most asks of one prompt: enough for a variance (AlpacaEval measures its annotators' with a few), and a bound on
# what a typo (repeats=500) could cost.
MAX_REPEATS = 20


def _judge_settings(spec: str, settings: Sequence[str]) -> _JudgeSettings:
    found = _JudgeSettings()
    seen: set[str] = set()
    for setting in settings:
        key, equals, value = setting.partition("=")
        key = "logprobs" if key.lower() == "logprobs" and not equals else key
        if key in seen:
            raise ConfigError(f"--judge {_shown(spec)!r}: {key} is given twice; give each setting once")
        seen.add(key)
        if key == "key_env" and value:
            found = replace(found, key_env=value)
        elif key == "logprobs" and not equals:
            found = replace(found, logprobs=True)
        elif key == "t" and _temperature(value) is not None:
            found = replace(found, temperature=_temperature(value), temperature_text=value)
        elif key == "repeats" and _repeats(value) is not None:
            found = replace(found, repeats=_repeats(value) or 1)
        else:
            near = closest(key, _SETTING_NAMES) if key not in _SETTING_NAMES else None
            raise ConfigError(f"--judge {_shown(spec)!r}: a judge's settings are t=TEMPERATURE (0 to 2), "
                              f"key_env=VARIABLE, repeats=K (1 to {MAX_REPEATS}) and logprobs, after the model or "
                              "its mode, e.g. j@http://host/v1,t=0.7 or local#json,t=0.7,logprobs,repeats=5"
                              + (f" (did you mean {near!r}?)" if near else ""))
    return found


def _repeats(text: str) -> int | None:
    """How many times to ask each prompt: a whole number from 1 to MAX_REPEATS, or None."""
    value = text.strip()
    return int(value) if value.isascii() and value.isdigit() and 1 <= int(value) <= MAX_REPEATS else None


def _temperature(text: str) -> float | None:
    """A temperature from 0 to 2, or None (NaN, infinity and text included)."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if 0.0 <= value <= 2.0 else None


def parse_panel(specs: tuple[str, ...] | list[str], **kwargs: object) -> tuple[Judge, ...]:
    """Judges of a panel; two with the same name cannot be told apart in the results, so that is an error."""
    panel = tuple(parse_judge(s, **kwargs) for s in specs)  # type: ignore[arg-type]
    names = [j.name for j in panel]
    if len(set(names)) != len(names):
        raise ConfigError(f"--judge: two judges share a name: {', '.join(names)}")
    return panel


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer (the server is there): not followed, as no request of the run follows one."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _status_of(url: str, headers: dict[str, str], timeout_s: float) -> int:
    """The HTTP status of ``GET url`` (an error status included); an OSError (a URLError, a timeout) or an
    http.client.HTTPException when no server answers. The standard library's client, already loaded by the run
    (tasks.fetch): the probe needs no other, and over plain HTTP makes no TLS context (the CA bundle's load is
    most of what a client costs to start); over HTTPS it checks the certificate against the system's CAs, as the
    lean transport that sends the run's requests does."""
    # Only a server is probed: urllib would also open file:, ftp: and data: URLs (a base URL from the environment,
    # OPENAI_BASE_URL, is not checked as a --judge URL is), which no request of the run can use either.
    if urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"not an http:// or https:// URL: {urlsplit(url).scheme or 'no'} scheme")
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, headers=headers), timeout=timeout_s) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:  # an answer all the same: refusals are told apart by their status
        exc.close()
        return exc.code


def _failure(exc: BaseException) -> str:
    """What stopped a probe, as ``Type: message`` of the underlying error (a URLError wraps the socket's)."""
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, BaseException):
        return f"{type(reason).__name__}: {reason}"
    return f"{type(exc).__name__}: {reason}"


async def _in_thread(url: str, headers: dict[str, str], timeout_s: float) -> int:
    """``_status_of`` in a daemon thread of its own, awaited. Not asyncio.to_thread: its pool's threads are joined
    when the loop ends, so a run stopped (Ctrl-C) while a server holds the probe waited until the socket's timeout
    ran out (or for ever, for a server that sends a byte now and then); the probe's thread holds nothing to finish."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[int] = loop.create_future()

    def settle(result: int | None, error: BaseException | None) -> None:
        if done.done():  # (given up: the run was stopped)
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(result if result is not None else 0)

    def probe() -> None:
        result: int | None = None
        error: BaseException | None = None
        try:
            result = _status_of(url, headers, timeout_s)
        except BaseException as exc:  # handed to the awaiting coroutine, which tells what it means
            error = exc
        with contextlib.suppress(RuntimeError):  # (the loop has closed: nobody waits for this probe any more)
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=probe, name="judgebench-probe", daemon=True).start()
    return await done


# A whole probe (connect, request, every read of the answer) waits at most this many times the run's timeout.
PROBE_BOUND = 2


async def _probe_one(endpoint: Endpoint, base_url: str, timeout_s: float) -> ConfigError | None:
    key = os.environ.get(endpoint.api_key_env) if endpoint.api_key_env else None
    # A name of our own: some providers' front ends refuse the standard library's ("Python-urllib/3.x") outright.
    headers = {"User-Agent": f"judgebench/{__version__}", "Accept": "*/*",
               **({"Authorization": f"Bearer {key}"} if key else {})}
    try:
        # In a thread: the probes of every endpoint and replica wait at once, none holding up the others. The
        # socket's timeout bounds each read; the whole probe is bounded too, so a server that sends a byte now and
        # then cannot hold the run at its start (asyncio's TimeoutError is the OSError caught below).
        status = await asyncio.wait_for(_in_thread(f"{base_url}/models", headers, timeout_s), PROBE_BOUND * timeout_s)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        # A provider's own API (OpenAI's) gets its own hint; a server by URL the generic one.
        named = next((p for p in BY_HOST.values() if p.base_url() == base_url), None)
        hint = named.unreachable_hint if named is not None else SERVER_HINT
        return ConfigError(credentials.redact(f"cannot reach {endpoint.name} at {base_url} ({_failure(exc)}). {hint}"))
    if status in (401, 403):
        return ConfigError(f"{endpoint.name} at {base_url} refused the key (HTTP {status}); "
                           f"check {endpoint.api_key_env}")
    return None


async def _probe(endpoint: Endpoint, timeout_s: float) -> list[str]:
    """Fails when no replica of the endpoint answers; returns a warning for each replica that does not (the run
    starts without it and probes it again later)."""
    if not provider_of(endpoint).probe or not endpoint.base_url:
        return []
    urls = [u for u in endpoint.replica_urls() if u]
    errors = await asyncio.gather(*(_probe_one(endpoint, url, timeout_s) for url in urls))
    failed = [e for e in errors if e is not None]
    if len(failed) == len(urls):
        raise failed[0]
    return [f"{e} (starting without this replica; it is tried again during the run)" for e in failed]


def check_keys(endpoints: list[Endpoint]) -> None:
    """A ConfigError naming the variable when an endpoint's key variable is unset or blank: a provider would only
    refuse every request (and offline, the first thing to fail would be the connection, which says nothing of a
    key). Never shows a value."""
    for endpoint in endpoints:
        env = endpoint.api_key_env
        if not env or (os.environ.get(env) or "").strip():
            continue
        named = next((p.host for p in BY_HOST.values() if p.name == endpoint.provider and p.key_env == env), None)
        who = f"{endpoint.name}@{named}" if named else f"{endpoint.name} at {endpoint.base_url or endpoint.provider}"
        raise ConfigError(f"{who}: no API key: the environment variable {env} is not set; set it (export {env}=...) "
                          "or name the variable that holds the key with --model-key-env VAR / --judge-key-env VAR "
                          "(or key_env=VAR in a judge's spec)")


async def acheck_reachable(endpoints: list[Endpoint], timeout_s: float = 10.0) -> list[str]:
    """Fail early, before any result is written, when a key is missing or a server cannot be reached. Returns
    warnings about replicas that cannot be reached while others of the same endpoint can."""
    check_keys(endpoints)
    found = await asyncio.gather(*(_probe(e, timeout_s) for e in endpoints))
    return [warning for warnings in found for warning in warnings]


def check_reachable(endpoints: list[Endpoint], timeout_s: float = 10.0) -> list[str]:
    return run_sync(acheck_reachable(endpoints, timeout_s))
