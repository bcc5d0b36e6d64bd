"""The client's reading of ARM answers through the typed views of ``tether.protocol.answers``.

``read_view`` is ``read_answer`` with the client's error: an answer lacking a field the CLI needs is a
``ClientError`` the CLI prints (code ``UnexpectedAnswer``), never a ``KeyError`` traceback.
"""

from __future__ import annotations

from typing import Any

from tether.client.errors import ClientError
from tether.protocol.answers import AnswerView, UnexpectedAnswer, read_answer


def read_view(view: type[AnswerView], answer: Any, *, what: str) -> AnswerView:
    """``answer`` read as ``view``; ``what`` (e.g. "job 'train-1'") names it if a needed field is missing."""
    try:
        return read_answer(view, answer, what=what)
    except UnexpectedAnswer as e:
        raise ClientError(e.message, code=e.code) from e
