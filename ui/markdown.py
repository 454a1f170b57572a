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
# Marks with a meaning anywhere in a line (emphasis, code, links and images, HTML, strikethrough, maths,
# Streamlit's :colour[...] and :icon:, entities, autolinked e-mails, table cells); "http:" and "www."
# lose their autolink with an escaped ":" or "."
_SPECIAL = re.compile(r"([\\`*_\[\]<>!~$:&@|])")
# marks that open a block only at the start of a line (heading, list, quote, numbered list)
_BLOCK_START = re.compile(r"^(\s*\d*)([#+\-=>.)])")


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
    escaped = _SPECIAL.sub(r"\\\1", _one_line(text, limit))
    escaped = re.sub(r"(?i)\bwww\.", lambda m: m.group(0)[:-1] + "\\.", escaped)
    return _BLOCK_START.sub(lambda m: m.group(1) + "\\" + m.group(2), escaped)
