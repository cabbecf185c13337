"""The library reference (reference/*.md) covers every public name, and every public name has a
numpydoc docstring that says what it takes, returns and raises.

Public names are each module's ``__all__`` plus the public methods and properties of the
public classes defined in ``als_lib``. The docstrings are read the way Sphinx's napoleon reads
them (numpy style): sections are a title underlined with dashes; a parameter line is
``name : type``. The book's strict build (``-W -n``) then checks that they render and that
every type name of ``als_lib`` resolves; this test checks that nothing is missing.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import pkgutil
import re
import textwrap
from functools import cached_property
from pathlib import Path

import pytest
import yaml
from sphinx.pycode import ModuleAnalyzer

import als_lib

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "reference"

_AUTOMODULE = re.compile(
    r"^\.\. automodule:: (?P<rst>\S+)[ \t]*\n(?P<opts>(?:[ \t]+:.*\n)*)"
    r"|^```\{automodule\} (?P<md>\S+)[ \t]*\n(?P<mdopts>(?::.*\n)*)",
    re.M,
)
_SECTION = re.compile(r"^(?P<title>[A-Z][A-Za-z ]+)\n(?P<rule>-+)$", re.M)
_PARAM_LINE = re.compile(r"^(?P<names>\*{0,2}\w+(?:\s*,\s*\*{0,2}\w+)*)\s*(?::\s*(?P<type>.*))?$")
_RAISE = re.compile(r"\braise\s+([A-Z]\w*)\(")



# --------------------------------------------------------------------------- collecting
def _modules() -> list:
    mods = [als_lib]
    for info in pkgutil.walk_packages(als_lib.__path__, prefix="als_lib."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            mods.append(importlib.import_module(info.name))
    return mods


MODULES = _modules()
DOCUMENTED = {m.__name__: m for m in MODULES if hasattr(m, "__all__")}


def _directives() -> dict[str, tuple[str, str]]:
    """module name -> (page, options) for every automodule directive of the reference."""
    found: dict[str, tuple[str, str]] = {}
    for page in sorted(REFERENCE.glob("*.md")):
        for m in _AUTOMODULE.finditer(page.read_text()):
            name = m.group("rst") or m.group("md")
            assert name not in found, f"{name} is documented twice ({found[name][0]}, {page.name})"
            found[name] = (page.name, m.group("opts") or m.group("mdopts") or "")
    return found


DIRECTIVES = _directives()


def _with_members() -> set[str]:
    return {name for name, (_, opts) in DIRECTIVES.items() if ":members:" in opts}


def _excluded(module: str) -> set[str]:
    opts = DIRECTIVES.get(module, ("", ""))[1]
    m = re.search(r":exclude-members:(.*)", opts)
    return {n.strip() for n in m.group(1).split(",") if n.strip()} if m else set()


def _defined_here(obj, module) -> bool:
    return getattr(obj, "__module__", None) == module.__name__


def _public_classes() -> dict[str, type]:
    classes = {}
    for mod in DOCUMENTED.values():
        for name in mod.__all__:
            obj = getattr(mod, name)
            if inspect.isclass(obj) and obj.__module__.startswith("als_lib"):
                classes[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return classes


def _members(cls: type):
    """Public methods and properties a reader of ``cls``'s entry sees: its own, and those it
    inherits from private classes of als_lib (which have no entry of their own)."""
    seen = set()
    for owner in cls.__mro__:
        if owner is not cls and not (owner.__module__.startswith("als_lib")
                                     and owner.__name__.startswith("_")):
            continue
        for name, attr in vars(owner).items():
            if name.startswith("_") or name in seen:
                continue
            if isinstance(attr, (staticmethod, classmethod)):
                attr = attr.__func__
            if isinstance(attr, (property, cached_property)) or inspect.isfunction(attr):
                seen.add(name)
                yield f"{owner.__module__}.{owner.__qualname__}.{name}", attr


def _public_callables() -> dict[str, object]:
    """qualified name -> function, class, method or property."""
    out: dict[str, object] = {}
    for mod in DOCUMENTED.values():
        for name in mod.__all__:
            obj = getattr(mod, name)
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and _defined_here(obj, mod):
                out[f"{mod.__name__}.{name}"] = obj
    for qual, cls in _public_classes().items():
        for name, attr in _members(cls):
            out[name] = attr
    return out


PUBLIC = _public_callables()


# --------------------------------------------------------------------------- reading docstrings
def _doc(obj) -> str | None:
    if isinstance(obj, property):
        obj = obj.fget
    elif isinstance(obj, cached_property):
        obj = obj.func
    return inspect.getdoc(obj) if getattr(obj, "__doc__", None) else None


def sections(doc: str) -> dict[str, str]:
    """Section title -> body of a numpydoc docstring ("" is the text before the first)."""
    out, start, title = {}, 0, ""
    for m in _SECTION.finditer(doc):
        if len(m.group("rule")) < 3:
            continue
        out[title] = doc[start:m.start()]
        title, start = m.group("title").strip(), m.end()
    out[title] = doc[start:]
    return out


def entries(body: str) -> list[tuple[list[str], str]]:
    """The unindented ``name : type`` lines of a Parameters-like section."""
    found = []
    for line in textwrap.dedent(body).splitlines():
        if not line or line[0].isspace():
            continue
        m = _PARAM_LINE.match(line.strip())
        if m:
            names = [n.strip().lstrip("*") for n in m.group("names").split(",")]
            found.append((names, (m.group("type") or "").strip()))
        else:
            found.append(([], line))
    return found


def _function(obj):
    if isinstance(obj, property):
        return obj.fget
    if isinstance(obj, cached_property):
        return obj.func
    return obj


def _source_tree(func) -> ast.FunctionDef | None:
    try:
        src = textwrap.dedent(inspect.getsource(func))
    except (OSError, TypeError):
        return None
    node = ast.parse(src).body[0]
    return node if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else None


def _own_nodes(node):
    """The nodes of a function body, not descending into nested functions or classes."""
    todo = list(node.body)
    while todo:
        n = todo.pop()
        yield n
        for child in ast.iter_child_nodes(n):
            if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                                      ast.Lambda)):
                todo.append(child)


def returns_value(func) -> tuple[bool, bool]:
    """(returns a value, is a generator), from the annotation and the source."""
    node = _source_tree(func)
    own = list(_own_nodes(node)) if node is not None else []
    if any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in own):
        return True, True
    returns = [n for n in own if isinstance(n, ast.Return) and n.value is not None
               and not (isinstance(n.value, ast.Constant) and n.value.value is None)]
    if node is not None and not returns and isinstance(node.body[-1], ast.Raise):
        return False, False                          # always raises (a refused method)
    ann = inspect.signature(func).return_annotation
    if ann is not inspect.Signature.empty:
        return ann not in (None, "None", "NoReturn"), False
    return bool(returns), False


def raised(func) -> set[str]:
    node = _source_tree(func)
    if node is None:
        return set()
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]                                   # not the docstring's own words
    return {name for stmt in body for name in _RAISE.findall(ast.unparse(stmt))}


def _constructor(cls: type):
    """The parameters a reader passes to ``cls(...)``, or None when the constructor is not
    als_lib's (an exception's message, a display object's data)."""
    if dataclasses.is_dataclass(cls):
        return [f.name for f in dataclasses.fields(cls) if f.init]
    if hasattr(cls, "_fields"):                                       # NamedTuple
        return list(cls._fields)
    init = next((k.__dict__["__init__"] for k in cls.__mro__ if "__init__" in k.__dict__), None)
    if init is None or not getattr(init, "__module__", "").startswith("als_lib"):
        return None
    return [p.name for p in inspect.signature(init).parameters.values()
            if p.name not in ("self", "cls")]


def _documented(section_maps: list[dict], titles: tuple[str, ...],
                found: list[str]) -> tuple[set[str], set[str]]:
    """The names listed under ``titles`` in the given docstring sections, and those of them
    without a type; an unreadable entry line is added to ``found``."""
    listed, untyped = set(), set()
    for secs in section_maps:
        for title in titles:
            for names, typ in entries(secs.get(title, "")):
                listed.update(names)
                if names and not typ:
                    untyped.update(names)
                if not names:
                    found.append(f"unreadable line in {title}: {typ!r}")
    return listed, untyped


def problems(qualname: str, obj) -> list[str]:
    doc = _doc(obj)
    if not doc or not doc.strip():
        return ["no docstring"]
    found = []
    secs = sections(doc)
    summary = secs[""].strip()
    if not summary:
        found.append("no summary line")
    if isinstance(obj, (property, cached_property)):
        # napoleon reads a property like an attribute: "type: summary" gives its type
        if not re.match(r"^[\w.\[\], |]+: \S", summary):
            found.append('property docstring does not start with "type: summary"')
        return found

    params: list[str]
    if inspect.isclass(obj):
        params = _constructor(obj) or []
        docs = [doc]
        init = obj.__dict__.get("__init__")
        if init is not None and inspect.getdoc(init):
            docs.append(inspect.getdoc(init))
        listed, untyped = _documented([sections(d) for d in docs],
                                      ("Parameters", "Attributes", "Other Parameters"), found)
        missing = [p for p in params if p not in listed]
        if missing:
            found.append(f"constructor parameters not documented: {missing}")
        if untyped & set(params):
            found.append(f"parameters without a type: {sorted(untyped & set(params))}")
        return found

    func = _function(obj)
    params = [p.name for p in inspect.signature(func).parameters.values()
              if p.name not in ("self", "cls")]
    listed, untyped = _documented([secs], ("Parameters", "Other Parameters"), found)
    missing = [p for p in params if p not in listed]
    if missing:
        found.append(f"parameters not documented: {missing}")
    if untyped:
        found.append(f"parameters without a type: {sorted(untyped)}")
    unknown = listed - set(params)
    takes_any = any(p.kind is p.VAR_KEYWORD for p in inspect.signature(func).parameters.values())
    if unknown and not takes_any:
        found.append(f"documents parameters it does not take: {sorted(unknown)}")

    value, generator = returns_value(func)
    if value:
        title = "Yields" if generator else "Returns"
        body = secs.get(title, "")
        if not body.strip():
            found.append(f"no {title} section")
        elif not textwrap.dedent(body).strip().splitlines()[0].strip():
            found.append(f"{title} without a type")
    errors = raised(func)
    if errors:
        named = {names[0] if names else line.split()[0]
                 for names, line in entries(secs.get("Raises", ""))}
        missing = sorted(errors - named)
        if missing:
            found.append(f"Raises does not name {missing}")
    return found


# --------------------------------------------------------------------------- the tests
def test_the_collection_is_not_empty():
    assert len(DOCUMENTED) >= 15 and len(PUBLIC) >= 150, (len(DOCUMENTED), len(PUBLIC))


def test_every_module_with_an_all_has_an_automodule_directive():
    missing = sorted(set(DOCUMENTED) - set(DIRECTIVES))
    assert not missing, f"modules with __all__ that no reference page documents: {missing}"


def test_reference_pages_name_only_existing_modules():
    unknown = sorted(set(DIRECTIVES) - set(DOCUMENTED))
    assert not unknown, f"reference pages document modules that do not exist: {unknown}"


def test_type_aliases_point_at_existing_names():
    """_config.yml maps the short type names of the docstrings (``Ratings``) to their full
    paths; each target must exist, and each public class of als_lib must have one (else a
    docstring naming it as a type fails the -n build in the modules that import it)."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]["config"]
    aliases = config["napoleon_type_aliases"]
    for short, target in aliases.items():
        m = re.fullmatch(r":class:`~?(als_lib\.[\w.]+)`", target)
        if not m:
            continue                              # words (":emphasis:") and other packages
        module, _, name = m.group(1).rpartition(".")
        assert getattr(importlib.import_module(module), name, None) is not None, target
        assert name == short, f"{short} -> {target}"
    exceptions = {q for q, c in _public_classes().items() if issubclass(c, BaseException)}
    missing = sorted(q.rpartition(".")[2] for q in _public_classes()
                     if q not in exceptions and q.rpartition(".")[2] not in aliases)
    assert not missing, f"public classes without a napoleon_type_aliases entry: {missing}"


def test_reference_pages_are_in_the_table_of_contents():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = {c["file"] for part in toc["parts"] for c in part.get("chapters", [])}
    pages = {f"reference/{p.stem}" for p in REFERENCE.glob("*.md")}
    assert pages <= files, f"reference pages missing from _toc.yml: {sorted(pages - files)}"


def test_every_public_name_has_an_entry_in_the_reference():
    """Each name of an ``__all__`` is listed by the module that defines it (the packages
    ``als_lib`` and ``als_lib.data`` re-export; their pages show only the overview)."""
    members = _with_members()
    missing = []
    for mod in DOCUMENTED.values():
        for name in mod.__all__:
            obj = getattr(mod, name)
            homes = [m for m in DOCUMENTED.values()
                     if name in m.__all__ and getattr(m, name) is obj and m.__name__ in members
                     and name not in _excluded(m.__name__)
                     and (_defined_here(obj, m) or not (inspect.isclass(obj)
                                                         or inspect.isfunction(obj)))]
            if not homes:
                missing.append(f"{mod.__name__}.{name}")
    assert not missing, f"public names with no entry in reference/*.md: {missing}"


def test_no_public_name_is_excluded_from_its_page():
    """Every public name is rendered from its own docstring: no ``:exclude-members:``."""
    for module in DIRECTIVES:
        assert not _excluded(module), f"{module} excludes {sorted(_excluded(module))}"


def test_public_data_have_a_doc_comment():
    missing = []
    for mod in DOCUMENTED.values():
        attr_docs = ModuleAnalyzer.for_module(mod.__name__).find_attr_docs()
        for name in mod.__all__:
            obj = getattr(mod, name)
            if inspect.isclass(obj) or callable(obj) or inspect.ismodule(obj):
                continue
            if ("", name) in attr_docs:
                summary = " ".join(attr_docs[("", name)]).strip()
                if not re.match(r"^[\w.\[\], |]+: \S", summary):
                    missing.append(f"{mod.__name__}.{name} (does not start with 'type: ')")
            elif not any(("", name) in ModuleAnalyzer.for_module(m.__name__).find_attr_docs()
                         for m in DOCUMENTED.values() if getattr(m, name, None) is obj
                         and m is not mod):
                missing.append(f"{mod.__name__}.{name}")
    assert not missing, f"public data without a '#: type: ...' comment: {missing}"


def test_every_public_name_has_a_numpydoc_docstring():
    report = {}
    for qualname, obj in PUBLIC.items():
        found = problems(qualname, obj)
        if found:
            report[qualname] = found
    assert not report, "docstrings to complete:\n" + "\n".join(
        f"  {name}: {'; '.join(p)}" for name, p in sorted(report.items()))


def test_the_checker_finds_defects():
    def bare(x, y):
        if x:
            raise ValueError("x")
        return x + y

    def good(x, y):
        """Add.

        Parameters
        ----------
        x, y : int
            The terms.

        Returns
        -------
        int
            The sum.

        Raises
        ------
        ValueError
            If ``x`` is true.
        """
        if x:
            raise ValueError("x")
        return x + y

    assert problems("bare", bare) == ["no docstring"]
    bare.__doc__ = "Add.\n\nParameters\n----------\nx : int\n    One term.\n"
    found = problems("bare", bare)
    assert any("['y']" in p for p in found)
    assert "no Returns section" in found
    assert any("ValueError" in p for p in found)
    assert problems("good", good) == []
