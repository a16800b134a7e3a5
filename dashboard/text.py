"""Data shown as text. Names are data: a SKU id may read `![x](http://host/pixel.png)` and a region
`<a href="http://evil">r</a>`. Every string of data a page puts into Markdown (st.markdown, st.caption,
st.info/warning/error/success, st.sidebar.write, titles, and the labels of widgets, expanders and tabs)
goes through `md`; every one it puts into a Plotly figure (titles, axis titles, legend names, hover text,
annotations) goes through `plot_text`. Tables (`st.dataframe`) and the options of select boxes render no
markup and need neither."""

from __future__ import annotations

import html
import re

__all__ = ["md", "plot_text"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
# Streamlit applies these to the text after Markdown has parsed it, so a backslash does not stop them:
# emoji and icon codes (`:smile:`, `:material/home:`, `:streamlit:`), links it finds in plain text
# (`http://host.example`, `www.host.example`, `user@host.example`) and arrows for ` -> `, ` -- `, ` >= `...
# A word joiner (U+2060, invisible) after the `:`, `@`, `www` or first symbol keeps them from matching.
_AFTER = re.compile(r"(?<=:)(?=[\w/+-]+:|/)|(?<=@)(?=[\w-])|(?<=www)(?=\.)|(?<=(?<!\S)[<>~-])(?=(?:-|>|=|->)(?!\S))",
                    re.IGNORECASE)
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
_WORD_JOINER = "\u2060"


def md(value: object) -> str:
    """`value` as Streamlit Markdown that shows exactly its text on one line.

    Every ASCII punctuation character is backslash-escaped (CommonMark renders each as itself), which
    stops links, images, emphasis, headings, lists, tables, raw HTML, entities, LaTeX (`$`) and
    Streamlit's directives (`:red[...]`); line breaks become spaces.
    """
    text = _CONTROL.sub(" ", str(value))
    return _PUNCTUATION.sub(r"\\\1", _AFTER.sub(_WORD_JOINER, text))


def plot_text(value: object) -> str:
    """`value` as Plotly text that shows exactly its text: Plotly renders a subset of HTML (`<a href>`,
    `<b>`, `<br>`...) in titles, legends, hover text and annotations, and decodes a few entities.

    `&`, `<` and `>` become entities Plotly decodes (so no tag can form); quotes stay, as Plotly does not
    decode `&quot;`.
    """
    return html.escape(str(value), quote=False)
