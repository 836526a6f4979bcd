"""Children started as from a terminal, where Ctrl-C reaches them."""

from __future__ import annotations

import signal


def sigint_as_in_a_terminal() -> None:
    """``preexec_fn`` for a child that must see SIGINT: a shell starts background jobs (``make test &``) with SIGINT
    ignored, children inherit that, and Python then installs no KeyboardInterrupt handler, so a test that sends
    the child Ctrl-C would wait for an exit that never comes when the suite itself was started in the background."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
