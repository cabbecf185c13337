"""Show the library's own source in a notebook (every chapter).

``source(obj)`` is how the book shows library code: from a code cell, so that the code is visible
wherever a chapter runs (the HTML book, JupyterLab, Binder, Colab), and so that nbval compares
the shown text with the stored output. Changing a shown function fails the tests until its chapter
is re-executed: there is one copy of the code, and the book cannot drift from it.
"""

from __future__ import annotations

import inspect
import re
import textwrap

from IPython.display import Code

__all__ = ["Source", "source"]

#: The widest line a reader sees: the HTML book's text column holds 79 characters of code
#: (at the 13 px of _static/book.css) before it scrolls. ``tests/test_book.py`` holds every
#: code cell, printed output and shown library object of the chapters to it.
MAX_LINE = 79


class Source(Code):
    """Python source as a display object.

    Its plain-text form is the source itself (what nbval compares); notebooks and the HTML book
    render it as a highlighted Markdown code block. Unlike :class:`IPython.display.Code` it emits
    no HTML, whose embedded stylesheet would restyle every ``<pre>`` of the book page.
    """

    def _repr_html_(self) -> None:  # noqa: D401 - no HTML form on purpose
        return None

    def _repr_latex_(self) -> None:
        return None

    def _repr_markdown_(self) -> str:
        longest = max((len(run) for run in re.findall(r"`+", self.data)), default=0)
        fence = "`" * max(3, longest + 1)
        return f"{fence}{self.language or 'python'}\n{self.data.rstrip()}\n{fence}\n"

    def __repr__(self) -> str:
        return self.data.rstrip("\n")


def source(obj: object) -> Source:
    """The source of a library function, class or method, for display in a chapter.

    Parameters
    ----------
    obj : object
        A function, class, method or module of ``als_lib`` (anything :func:`inspect.getsource`
        accepts). Methods are shown dedented, as if defined at the top level of a cell.

    Returns
    -------
    Source
        A display object: the source as plain text, rendered as highlighted Python.

    Raises
    ------
    TypeError
        If ``obj`` has no Python source (a built-in, or an object defined in a notebook cell).
    """
    try:
        text = inspect.getsource(obj)
    except (TypeError, OSError) as err:
        raise TypeError(
            f"source() shows library code, but {obj!r} has no Python source file ({err}). "
            "Pass a function, class or method of als_lib."
        ) from None
    return Source(textwrap.dedent(text), language="python")
