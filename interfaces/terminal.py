"""Text from the catalog made safe to show on a terminal.

Item names and descriptions may hold control characters: written raw, `ESC[41m` would paint the
terminal, `ESC]0;...BEL` retitle the window, a carriage return hide what came before. Every C0
and C1 control (and DEL) is shown as its `\\xNN` escape instead; JSON output is left exact.
"""

from __future__ import annotations

from typing import Final

_CONTROLS: Final = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]
_ESCAPED: Final = {code: f"\\x{code:02x}" for code in _CONTROLS}


def plain(text: str) -> str:
    """`text` with every control character replaced by its visible `\\xNN` escape."""
    return text.translate(_ESCAPED)
