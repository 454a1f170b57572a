"""Text from outside (a link's query parameters, an upload's name, an error that quotes either) shown safely
inside the Markdown of Streamlit's messages.

Streamlit renders ``st.warning``/``st.error``/``st.caption`` text as Markdown, with its own additions
(``$…$`` maths, ``:red[…]`` colours, ``:material/…:`` icons). A value copied into that text could
otherwise turn into a live link, an image fetched from anywhere, or styled text that impersonates
the app. :func:`code` shows a value verbatim as inline code, whatever backticks it holds;
:func:`plain` escapes every character Markdown or Streamlit gives a meaning to.
"""

from __future__ import annotations

import re

#: Longest value shown; a link can carry kilobytes.
MAX_SHOWN = 200
_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&=\"'])")


def _one_line(text: object, limit: int) -> str:
    text = " ".join(str(text).split())  # newlines would end a Markdown paragraph or open a block
    return text if len(text) <= limit else text[: limit - 1] + "…"


def code(value: object, *, limit: int = MAX_SHOWN) -> str:
    """``value`` as one inline code span: its fence is longer than any run of backticks inside it."""
    text = _one_line(value, limit)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if longest else ""  # Markdown drops one space each side; it keeps a backtick off the fence
    return f"{fence}{pad}{text}{pad}{fence}"


def plain(text: object, *, limit: int = 4 * MAX_SHOWN) -> str:
    """``text`` with every Markdown and Streamlit mark escaped, so it renders as the same characters."""
    return _SPECIAL.sub(r"\\\1", _one_line(text, limit))
