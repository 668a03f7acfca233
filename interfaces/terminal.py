"""Text from the catalog made safe to show on a terminal.

Written raw, control characters in names would paint or retitle the terminal, or reorder what an
operator reads: they are shown as their escapes instead (JSON output is left exact).
"""

from __future__ import annotations

from typing import Final

_CONTROLS: Final = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]
#: Embeddings and overrides (U+202A-202E), isolates (U+2066-2069) and the implicit marks
#: (ALM, LRM, RLM), which also move what follows them.
_BIDI: Final = [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x061C, 0x200E, 0x200F]
_ESCAPED: Final = {
    **{code: f"\\x{code:02x}" for code in _CONTROLS},
    **{code: f"\\u{code:04x}" for code in _BIDI},
}


def plain(text: str) -> str:
    """`text` with every control character replaced by its visible escape."""
    return text.translate(_ESCAPED)
