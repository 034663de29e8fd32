"""The footer: Textual's, showing only the keys that fit whole.

Textual's footer cuts its last key where the terminal ends ("t Co" at 60 columns): a key
cut mid-word tells nothing. Here the keys that do not fit whole are not shown; every key
stays in the help (`?`).
"""

from __future__ import annotations

from rich.cells import cell_len
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

# A compact footer key is "key description" and a one-cell gap after it.
_GAP = 1
# The command palette key, docked right: a border and its padding around "key description".
_PALETTE_FRAME = 2


def key_width(key: FooterKey) -> int:
    text = f"{key.key_display} {key.description}" if key.description else key.key_display
    return cell_len(text)


class FittedFooter(Footer):
    """A footer whose keys are shown whole or not at all."""

    async def recompose(self) -> None:
        await super().recompose()
        self._fit()

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        width = self.size.width
        if not width:
            return
        keys = list(self.query(FooterKey))
        palette = [key for key in keys if key.has_class("-command-palette")]
        room = width
        for key in palette:
            if key.styles.display != "none":
                room -= key_width(key) + _PALETTE_FRAME
        used = 0
        for key in keys:
            if key in palette:
                continue
            used += key_width(key)
            key.display = used <= room
            used += _GAP
