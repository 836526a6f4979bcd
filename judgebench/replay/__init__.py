"""The replay judge: anchors' recorded judge replies served to the exact prompts that produced them (see
``server``), so a published protocol can be run end to end and its numbers compared with the anchor's."""

from __future__ import annotations

from .readers import READERS, read_recordings
from .server import ReplayServer, replaying
from .table import Miss, ReaderOptions, Recording, ReplayTable

__all__ = ["READERS", "Miss", "ReaderOptions", "Recording", "ReplayServer", "ReplayTable", "read_recordings",
           "replaying"]
