"""What every chapter gives a learner: the Colab cell, the frame (what you will learn, what it
assumes, how long it runs, a summary, further reading), graded exercises with checked
solutions, and links to the glossary and the library reference."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
DATASETS = ("ml-100k", "ml-latest-small", "ml-1m")


def cells(nb: Path) -> list[dict]:
    return json.loads(nb.read_text())["cells"]


def text(cell: dict) -> str:
    return "".join(cell["source"])


def markdown(nb: Path) -> str:
    return "\n\n".join(text(c) for c in cells(nb) if c["cell_type"] == "markdown")


def section(md: str, title: str) -> str:
    """The text of the level-2 section called ``title`` (up to the next level-2 heading)."""
    m = re.search(rf"^## {re.escape(title)}\s*$(.*?)(?=^## |\Z)", md, flags=re.M | re.S)
    assert m, f"no '## {title}' section"
    return m.group(1)


# ----------------------------------------------------------------------------- Colab
@pytest.mark.parametrize("nb", CHAPTERS, ids=lambda p: p.name)
def test_first_cell_sets_up_colab_and_is_a_no_op_elsewhere(nb):
    """Colab opens a notebook alone: its first cell installs als_lib from the book's repository
    and fetches exactly the datasets the chapter reads. Everywhere else the guard skips it, so
    its stored output is empty; the HTML book does not show it."""
    first = next(c for c in cells(nb) if c["cell_type"] == "code")
    src = text(first)
    assert "remove-cell" in first["metadata"].get("tags", [])
    assert first["outputs"] == []
    lines = src.splitlines()
    guard = lines.index('if "google.colab" in sys.modules:')
    body = [ln for ln in lines[guard + 1:] if ln.strip()]
    assert body and all(ln.startswith("    ") for ln in body), "everything after the guard is inside it"
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    assert f"@ git+{url}" in src, f"{nb.name}: the Colab cell installs from {url} (_config.yml)"
    rest = "".join(text(c) for c in cells(nb)[1:] if c["cell_type"] == "code")
    used = {d for d in DATASETS if re.search(rf'load_movielens(_fold)?\(\s*"{d}"', rest)}
    if "load_movielens_fold(" in rest:
        used.add("ml-100k")                  # the official folds are ml-100k's
    fetched = set(re.findall(r'"(ml-[a-z0-9-]+)"', src))
    assert fetched == used, f"{nb.name}: the Colab cell fetches {fetched}, the chapter reads {used}"


# ----------------------------------------------------------------------------- frame
def run_time_claim(md: str) -> float:
    m = re.search(r"\*\*Run time:\*\* about (\d+(?:\.\d+)?) (seconds|minutes?)\b", md)
    assert m, "no '**Run time:** about N seconds/minutes' line"
    return float(m.group(1)) * (60 if m.group(2).startswith("minute") else 1)


@pytest.mark.parametrize("nb", CHAPTERS, ids=lambda p: p.name)
def test_chapter_opens_with_the_frame(nb):
    opening = "\n".join(text(c) for c in cells(nb)[:6] if c["cell_type"] == "markdown")
    for words in ("**You will learn**", "**Prerequisites:**", "**Run time:**"):
        assert words in opening, f"{nb.name}: the opening lacks {words}"


@pytest.mark.parametrize("nb", CHAPTERS, ids=lambda p: p.name)
def test_stated_run_time_is_the_measured_one(nb):
    """`make execute` records how long the notebook took (metadata als_book.run_seconds); the
    run time the chapter states must agree with it (within the spread between machines)."""
    meta = json.loads(nb.read_text())["metadata"].get("als_book", {})
    assert "run_seconds" in meta, f"re-execute {nb.name} with `make execute` to record its run time"
    stated, measured = run_time_claim(markdown(nb)), meta["run_seconds"]
    assert 0.6 * measured <= stated <= 1.6 * measured, (
        f"{nb.name} says it runs in about {stated:.0f} s; it took {measured:.0f} s when last executed")


@pytest.mark.parametrize("nb", CHAPTERS, ids=lambda p: p.name)
def test_chapter_ends_with_summary_further_reading_and_exercises(nb):
    md = markdown(nb)
    heads = re.findall(r"^## (.+?)\s*$", md, flags=re.M)
    tail = [h for h in heads if h in ("Summary", "Further reading", "Exercises")]
    assert tail == ["Summary", "Further reading", "Exercises"], f"{nb.name}: end sections {tail}"
    assert heads[-1] == "Exercises", f"{nb.name}: the exercises come last"
    reading = section(md, "Further reading")
    cites = re.findall(r"\{cite[a-z:]*\}`([^`]+)`", reading)
    assert len(cites) >= 2, f"{nb.name}: further reading cites {cites}; give at least two references"
    bib = (ROOT / "chapters" / "references.bib").read_text()
    for key in ",".join(cites).split(","):
        assert re.search(rf"@\w+\{{{key.strip()},", bib), f"{nb.name}: {key} is not in references.bib"


# ----------------------------------------------------------------------------- exercises
EXERCISE = re.compile(r"^```\{exercise\}(?P<title>[^\n]*)\n(?P<opts>(?::[^\n]*\n)*)(?P<body>.*?)^```",
                      re.M | re.S)


def exercises(nb: Path) -> list[dict]:
    found = []
    for c in cells(nb):
        if c["cell_type"] == "markdown":
            for m in EXERCISE.finditer(text(c)):
                label = re.search(r"^:label: *(\S+)", m.group("opts"), re.M)
                found.append({"title": m.group("title").strip(), "label": label and label.group(1),
                              "body": m.group("body")})
    return found


def solutions(nb: Path) -> dict[str, list[dict]]:
    """label -> the cells of its solution: the gated solution-start ... solution-end form (any
    cells between), or one markdown cell with a solution directive."""
    out: dict[str, list[dict]] = {}
    open_label = None
    for c in cells(nb):
        t = text(c)
        if c["cell_type"] == "markdown":
            start = re.search(r"^```\{solution-start\} *(\S+)\n(?P<opts>(?::[^\n]*\n)*)", t, re.M)
            single = re.search(r"^```\{solution\} *(\S+)\n(?P<opts>(?::[^\n]*\n)*)", t, re.M)
            if start:
                assert open_label is None, f"solution {start.group(1)} starts inside {open_label}"
                assert ":class: dropdown" in start.group("opts"), f"solution {start.group(1)} is not collapsed"
                open_label = start.group(1)
                out[open_label] = [c]
                if "{solution-end}" in t:
                    open_label = None
                continue
            if single:
                assert ":class: dropdown" in single.group("opts"), f"solution {single.group(1)} is not collapsed"
                out[single.group(1)] = [c]
                continue
            if "{solution-end}" in t:
                assert open_label, "a solution-end without its start"
                out[open_label].append(c)
                open_label = None
                continue
        if open_label:
            out[open_label].append(c)
    assert open_label is None, f"solution {open_label} never ends"
    return out


def test_solutions_are_collapsed_not_hidden():
    """`hide_solutions: true` with the gated form crashes the build (sphinx-exercise 1.2.1)."""
    assert "hide_solutions" not in (ROOT / "_config.yml").read_text()


@pytest.mark.parametrize("nb", CHAPTERS, ids=lambda p: p.name)
def test_four_to_six_graded_exercises_each_with_a_checked_solution(nb):
    exs = exercises(nb)
    assert 4 <= len(exs) <= 6, f"{nb.name}: {len(exs)} exercises"
    sols = solutions(nb)
    labels = [e["label"] for e in exs]
    assert all(labels) and len(set(labels)) == len(labels), f"{nb.name}: labels {labels}"
    assert sorted(sols) == sorted(labels), f"{nb.name}: exercises {labels}, solutions {sorted(sols)}"
    exercise_part = section(markdown(nb), "Exercises")
    for e in exs:
        stars = re.match(r"(★{1,3}) ", e["title"])
        assert stars, f"{nb.name} {e['label']}: the title starts with one to three stars: {e['title']!r}"
        assert e["label"].startswith(f"ch{int(nb.name[:2])}-"), f"{nb.name}: label {e['label']}"
        assert e["body"].strip(), f"{nb.name} {e['label']}: no question"
        assert f":label: {e['label']}" in exercise_part, f"{nb.name} {e['label']}: not under ## Exercises"
    grades = {len(re.match(r"★+", e["title"]).group(0)) for e in exs}
    assert len(grades) >= 2, f"{nb.name}: every exercise has the same grade"
    assert sum("(open-ended)" in e["title"] for e in exs) >= 1, f"{nb.name}: no open-ended exercise"
    for label, sol in sols.items():
        words = " ".join(text(c) for c in sol if c["cell_type"] == "markdown")
        prose = re.sub(r"```\{solution[^\n]*\n(:[^\n]*\n)*|```|\{solution-end\}", " ", words)
        assert len(prose.split()) >= 8, f"{nb.name} {label}: the solution states no answer in words"
        for c in sol:
            if c["cell_type"] == "code" and text(c).strip():
                assert re.search(r"^\s*assert ", text(c), re.M), (
                    f"{nb.name} {label}: a solution cell computes but asserts nothing")


# ----------------------------------------------------------------------------- glossary
def glossary_terms() -> list[str]:
    g = (ROOT / "glossary.md").read_text()
    body = g[g.index("```{glossary}"):]
    return [ln.strip() for ln in body.splitlines()[1:] if ln and not ln.startswith((" ", "```"))]


def test_glossary_defines_the_terms_the_book_leans_on():
    terms = glossary_terms()
    for t in ("CSR", "`sampled_addmm`", "Eckart–Young", "A-conjugate", "Krylov subspace",
              "Schur complement", "condition number", "ALS-WR"):
        assert t in terms, f"the glossary lacks {t}"


def test_every_glossary_term_is_linked_from_a_chapter():
    linked = set()
    for nb in CHAPTERS:
        for m in re.finditer(r"\{term\}`([^`<]*?)(?:<([^>]+)>)?`", markdown(nb)):
            linked.add((m.group(2) or m.group(1)).strip())
    terms = {t.strip("`") for t in glossary_terms()}
    linked = {t.strip("`") for t in linked}
    assert terms - linked == set(), f"terms no chapter links to: {sorted(terms - linked)}"
