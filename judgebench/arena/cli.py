"""``judgebench arena``: serve the page, invite and revoke voters, report on them."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path
from typing import Any

import click

from ..errors import ConfigError, sqlite_fault

# The arena's modules (its store: secrets, the web app) are imported by the commands that use them, so that
# `judgebench --help`, which lists this group, stays fast to start (tests/test_cli_startup.py).

_DB_KEY = "judgebench.arena.db"


def _remember_db(ctx: click.Context, param: click.Parameter, value: Path) -> Path:
    ctx.meta[_DB_KEY] = value  # shared with the group's context: a failure below names this file
    return value


DB_OPTION = click.option("--db", "db", required=True, type=click.Path(dir_okay=False, path_type=Path),
                         callback=_remember_db, help="The arena's SQLite database.")


class _ArenaGroup(click.Group):
    """A SQLite error that is the machine's (a full disk, a read-only or unopenable file) is one line naming the
    --db it happened on (SQLite's errors carry no path); any other is raised as it is."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except sqlite3.Error as exc:
            fault = sqlite_fault(exc, ctx.meta.get(_DB_KEY, "the --db database"), "choose another --db",
                                 "the arena database")
            if fault is None:
                raise
            raise fault from None


def _loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.group(cls=_ArenaGroup)
def arena() -> None:
    """A human arena: invited voters vote on anonymous battles between models' answers."""


@arena.command()
@click.option("--task", required=True, help="Task name or YAML path: its items are the questions.")
@click.option("--answers", "answer_files", multiple=True, required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="One model's answers (FastChat model_answer .jsonl or AlpacaEval model_outputs.json); repeat.")
@DB_OPTION
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="0: any free port.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (loopback by default; voters elsewhere need it reachable).")
@click.option("--max-votes-per-day", type=click.IntRange(min=1), default=200, show_default=True,
              help="Votes per voter and UTC day.")
@click.option("--items", "items_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Only the items a file lists: the JSONL `judgebench escalate --write-items` writes (the items a "
                   "cheap judge was unsure of), or item ids one per line.")
def serve(task: str, answer_files: tuple[Path, ...], db: Path, port: int, host: str, max_votes_per_day: int,
          items_file: Path | None) -> None:
    """Serve the arena's page and JSON API (prints the URL)."""
    try:
        import uvicorn

        from .app import ArenaConfig, create_app
    except ImportError as exc:
        raise ConfigError(f"the arena needs starlette and uvicorn: pip install 'judgebench[arena]' ({exc})") from exc
    from ..formats.item_lists import read_item_ids
    from ..tasks import load_task
    from .pool import load_pool

    if len(answer_files) < 2:
        raise ConfigError("the arena needs the answers of at least two models: pass --answers twice or more")
    loaded = load_task(task)
    pool = load_pool(loaded, answer_files, read_item_ids(items_file, loaded.benchmark) if items_file else None)
    app = create_app(ArenaConfig(db, pool, max_votes_per_day))
    if not _loopback(host):
        click.echo(f"warning: listening on {host}: the traffic (tokens, votes) is plain HTTP; put a TLS proxy in "
                   "front of it for anything beyond a trusted network", err=True)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror}): pick another --port") from exc
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    click.echo(f"arena: {len(pool.models)} models, {len(pool.pairs())} pairs, {len(pool.items)} items; "
               f"votes in {db}", err=True)
    click.echo(f"serving http://{shown}:{bound}/", err=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    server.run(sockets=[sock])


@arena.command()
@DB_OPTION
@click.argument("name")
def invite(db: Path, name: str) -> None:
    """Invite NAME: prints the token that admits them on the last line (keep it secret; it is not stored)."""
    from . import store

    conn = store.open_db(db)
    try:
        token = store.add_voter(conn, name)
    finally:
        conn.close()
    click.echo(f"invited {name}: give them this token (it admits them; it is shown only now):")
    click.echo(token)


@arena.command()
@DB_OPTION
@click.argument("name")
def revoke(db: Path, name: str) -> None:
    """Revoke NAME's token and sessions (their votes stay)."""
    from . import store

    conn = store.open_db(db)
    try:
        store.revoke_voter(conn, name)
    finally:
        conn.close()
    click.echo(f"revoked {store.escaped(name)}")


@arena.command()
@DB_OPTION
def voters(db: Path) -> None:
    """Each voter's votes today and in all, and their consistency on repeated battles."""
    from . import store
    from .ranking import voter_reports

    conn = store.open_db(db)
    try:
        rows = conn.execute("SELECT name, revoked FROM voters ORDER BY name").fetchall()
    finally:
        conn.close()
    votes = store.read_votes(db)
    revoked = {row["name"] for row in rows if row["revoked"]}
    for report in voter_reports(votes, [row["name"] for row in rows]):
        click.echo(store.escaped(report.describe() + (" (revoked)" if report.voter in revoked else "")))
