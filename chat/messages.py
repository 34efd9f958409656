"""The one chat-message type of the suite.

A conversation is a list of messages ``{"role": ..., "content": ...}``. An assistant message
the rollout recorded also carries ``token_ids``, the ids it was sampled as: ``Policy.render``
keeps them verbatim, so every turn's context is a prefix of the episode's next one (the text
alone can re-tokenize differently). Messages built from text (prompts, the reflector's and
curator's conversations) leave it out.
"""

# No ``from __future__ import annotations`` here: TypedDict must see NotRequired unquoted to
# leave token_ids out of the required keys (Python 3.11).
from typing import Literal, NotRequired, TypedDict


class Message(TypedDict):
    """One chat message; ``token_ids`` only on an assistant turn that was sampled."""

    role: Literal["system", "user", "assistant"]
    content: str
    token_ids: NotRequired[list[int]]


Conversation = list[Message]
