"""ui.markdown: outside text in the app's Markdown renders as the same characters, never as a link, an
image, HTML or Streamlit markup."""

from __future__ import annotations

import html

import pytest

from ui.markdown import code, plain

markdown_it = pytest.importorskip("markdown_it")
HOSTILE = ["x` [Click to re-login](http://127.0.0.1:8999/phish) `", "![img](http://127.0.0.1:8999/pixel.png)",
           "<img src=x onerror=alert(1)>", "``double`` ` and a lone `", "# heading", "1. item", "- item",
           "> quote", ":red[alert] :material/warning: $x^2$", "**bold** _it_ ~~gone~~", "www.example.com",
           "http://127.0.0.1:8999/x", "me@example.com", "a | b", "&amp; &#60;", "eps=-3 below 0.001"]


@pytest.mark.parametrize("text", HOSTILE)
def test_outside_text_renders_as_itself(text):
    render = markdown_it.MarkdownIt("commonmark").enable("strikethrough").enable("table").render
    for shown in (plain(text), code(text)):
        out = render(f"From the link: {shown}.")
        assert "<a " not in out and "<img" not in out and "<h1" not in out and "<li" not in out, out
        assert "<del" not in out and "<strong" not in out and "<em" not in out and "<blockquote" not in out, out
    inline = render(code(text))
    assert html.unescape(inline.removeprefix("<p><code>").removesuffix("</code></p>\n")) == text
    assert html.unescape(render(plain(text)).removeprefix("<p>").removesuffix("</p>\n")) == text
