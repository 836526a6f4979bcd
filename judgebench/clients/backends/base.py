"""What every chat backend is: an object with ``async complete(ChatRequest) -> ChatReply``. Apart from the
factory (``backends``) so that modules the backends themselves import (``replicas``) can name it."""

from __future__ import annotations

from typing import Protocol, get_args

from ...types import ChatReply, ChatRequest, Transport

TRANSPORTS: tuple[str, ...] = get_args(Transport)


class Backend(Protocol):
    async def complete(self, request: ChatRequest) -> ChatReply: ...

    async def aclose(self) -> None: ...
