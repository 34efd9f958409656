"""Chat messages and model text: what the model layer, the learners and the reflection component
share, at the bottom of the import layers (this package imports nothing of the suite).

    from chat import Conversation, Message, strip_thinking
"""

from chat.messages import Conversation, Message
from chat.thinking import strip_thinking

__all__ = ["Conversation", "Message", "strip_thinking"]
