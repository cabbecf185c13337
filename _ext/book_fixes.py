"""Local Sphinx extension for the ALS book.

1. Offline maths: copy MathJax 3 (the pinned PyPI package ``django-static-mathjax``, plain
   static files) into ``_build/html/_static/mathjax`` once the HTML is written, so pages never
   need a CDN. Only the files MathJax loads are copied, and none of them is added as a
   ``<script>`` tag: the page loads ``tex-chtml.js`` (``mathjax_path``), which fetches the
   rest itself, relative to its own location.
2. Sphinx 7.4 registers the inline configuration script of sphinx-thebe twice per page, which
   browsers reject ("Identifier 'THEBE_JS_URL' has already been declared"); drop repeats.
"""

from __future__ import annotations

import shutil
from pathlib import Path

MATHJAX_ENTRY = "tex-chtml.js"
# what tex-chtml.js loads at run time: its fonts, the TeX packages it autoloads, and the
# accessibility and menu helpers it enables by default
MATHJAX_PARTS = ["output/chtml/fonts/woff-v2", "input/tex/extensions", "a11y", "ui", "sre"]


def _mathjax_source() -> Path:
    import mathjax  # from django-static-mathjax

    return Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"


def copy_mathjax(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    src = _mathjax_source()
    dst = Path(app.outdir) / "_static" / "mathjax"
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src / MATHJAX_ENTRY, dst / MATHJAX_ENTRY)
    for part in MATHJAX_PARTS:
        if (src / part).exists():
            shutil.copytree(src / part, dst / part, dirs_exist_ok=True)
    shutil.copy2(src.parent / "LICENSE", dst / "LICENSE")


def dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for js in scripts:
        # an inline script is registered once with filename None and once with "": compare
        # by content, treating both as "no file"
        attrs = getattr(js, "attributes", {})
        key = (getattr(js, "filename", str(js)) or "", tuple(sorted(attrs.items())))
        if key in seen:
            continue
        seen.add(key)
        unique.append(js)
    scripts[:] = unique


def setup(app):
    app.connect("build-finished", copy_mathjax)
    app.connect("html-page-context", dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
