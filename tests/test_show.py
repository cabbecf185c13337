"""als_lib.show.source: how the chapters show library code."""

import inspect
import textwrap

import pytest
from IPython.core.formatters import DisplayFormatter

from als_lib.als import ExplicitALS, half_step
from als_lib.show import Source, source


def test_source_is_the_library_code_itself():
    shown = source(half_step)
    assert isinstance(shown, Source)
    assert shown.data == inspect.getsource(half_step)
    assert repr(shown) == inspect.getsource(half_step).rstrip("\n")


def test_methods_are_dedented():
    shown = source(ExplicitALS.fit)
    assert shown.data == textwrap.dedent(inspect.getsource(ExplicitALS.fit))
    assert shown.data.startswith("def fit(")


def test_notebook_forms_are_plain_text_and_markdown_only():
    data, _ = DisplayFormatter().format(source(half_step))
    assert set(data) == {"text/plain", "text/markdown"}      # no HTML with its own stylesheet
    md = data["text/markdown"]
    assert md.startswith("```python\n") and md.rstrip().endswith("```")
    assert inspect.getsource(half_step).rstrip() in md


def test_fence_is_longer_than_any_backtick_run_in_the_code():
    shown = Source("x = '```'\n", language="python")
    md = shown._repr_markdown_()
    assert md.startswith("````python\n") and md.rstrip().endswith("````")


def test_objects_without_source_are_refused_with_a_clear_message():
    with pytest.raises(TypeError, match="has no Python source file"):
        source(len)
