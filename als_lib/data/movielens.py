"""MovieLens: pinned files, data folders, verified downloads, safe extraction, parsing.

Where a dataset is looked for, in order: the ``data_dir`` argument if given; else the folder
named by the environment variable ``ALS_LIB_DATA_DIR`` and then the per-user cache
`default_data_dir()`. A folder may hold the zip (``ml-100k.zip``) or the extracted folder
(``ml-100k/``). A folder without write permission (a shared, pre-seeded copy) is read in
place and never written to. Every file read is checked against its pinned sha256 first.

Downloads go through pooch (`pooch.retrieve`: known hash, temporary file moved into place,
progress bar). pooch has no notion of several folders searched in order or of read-only
copies, and its ``Unzip`` renames unsafe archive members instead of refusing them, so the
search, the per-file checks and the extraction are done here.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import logging
import os
import re
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._parse import _parse_ratings
from .ratings import Ratings

__all__ = [
    "DATASETS",
    "DATA_DIR_ENV",
    "ChecksumError",
    "DatasetSpec",
    "DatasetUnavailableError",
    "default_data_dir",
    "load_movielens",
    "load_movielens_fold",
    "movie_genres",
]

#: str: Environment variable naming a folder that holds (or receives) the MovieLens files.
DATA_DIR_ENV = "ALS_LIB_DATA_DIR"


class ChecksumError(ValueError):
    """A file's size or sha256 is not the pinned one: it is not used."""


class DatasetUnavailableError(FileNotFoundError):
    """The dataset is in none of the data folders and could not be downloaded."""


@dataclass(frozen=True)
class DatasetSpec:
    """Where a dataset comes from and what its files must hash to.

    Parameters
    ----------
    name : str
        The dataset's name, also the stem of its zip (``ml-100k`` -> ``ml-100k.zip``).
    url : str
        Where the zip is downloaded from.
    zip_size : int
        The zip's size in bytes.
    zip_sha256 : str
        The zip's sha256 (hex digest).
    folder : str
        The folder the zip extracts to.
    ratings_file : str
        The ratings file (relative to ``folder``); its presence marks an extracted folder.
    files : dict
        Each file the loader reads (relative to ``folder``) -> its sha256.
    """

    name: str
    url: str
    zip_size: int
    zip_sha256: str
    folder: str
    ratings_file: str
    files: dict


_GROUPLENS = "https://files.grouplens.org/datasets/movielens/"

#: dict: The datasets `load_movielens` knows (name -> `DatasetSpec`), with their pinned
#: sizes and sha256 hashes.
DATASETS: dict[str, DatasetSpec] = {
    "ml-latest-small": DatasetSpec(
        "ml-latest-small", _GROUPLENS + "ml-latest-small.zip", 978202,
        "696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
        "ml-latest-small", "ratings.csv",
        {
            "ratings.csv": "aa289ca83157595d0df6aea1be6a4ded676ddc4385472e8313a8ed9805352646",
            "movies.csv": "5a5f32dd9bb3797b8e728a1b98958789d2b13f294a69fdfbc5727f8a9611aa07",
        },
    ),
    "ml-100k": DatasetSpec(
        "ml-100k", _GROUPLENS + "ml-100k.zip", 4924029,
        "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
        "ml-100k", "u.data",
        {
            "u.data": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
            "u.item": "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701",
            "u1.base": "ce253ec86c448b44fb3ba9a30d12dcfc2e9210cbde71efada3730c22e9ac212a",
            "u1.test": "18c6014a4b2c7324f250a63f8904a7b16b2b19f911129e346141507b0cbac950",
            "u2.base": "6c06f0b5df4b256da1a994f3ac66edc8da4d3f09bc9282df6b14d893366d703e",
            "u2.test": "4de658d1e04ed9104629509a2e2528fce833ac8e048280183f1df167632038c3",
            "u3.base": "afdc155c291c6edc41c0407e39d7462eb98d341e064f0b0a12175b80b3c4af5d",
            "u3.test": "0f548b51c78327de4c156461d3e430b7e5579fe2b5681586a59416e48fd35f6d",
            "u4.base": "219f0f4d40dfe9c5141d425f53fa91ee23ed275f14e280bbf1b50117afb064ca",
            "u4.test": "7c02ad0a1e7ab1083c8b9d4b627203a051dd7b5eab46d99fa44de33470de8db9",
            "u5.base": "a9574e59ce961eec2121627760b6e9b0974ce1637b3fe69ac32cb14a4bfab485",
            "u5.test": "351cc52e0d15b6c721466276fc24671d40936899e3d01fadeaf312915b8c5634",
            "ua.base": "67b5bcdb380c29f85d56a012ecd88612ae020f30a6730d117a334ee8203b91f2",
            "ua.test": "d0497e202417720f57a184ec8c66be2d1afa4ff41bb53787c57b28d6bf79bc42",
            "ub.base": "237254d253b6ad7de84f919d041055428646254f34ed8f562703c899430cd881",
            "ub.test": "d54a72d05730d5892062734b2bec73e976f9b713d18c828a18b968d6cce442da",
        },
    ),
    "ml-1m": DatasetSpec(
        "ml-1m", _GROUPLENS + "ml-1m.zip", 5917549,
        "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
        "ml-1m", "ratings.dat",
        {
            "ratings.dat": "506d64ca44484487c11dc2d9a28de5c54948213e6b96285e298afe28d6ea4e0f",
            "movies.dat": "0140fc2356357c1a851d0f52e893a1e4d3696df632c4141cea8d5bc3d621f0b9",
        },
    ),
}

#: How each dataset writes its ratings files: the field separator, and a header line or not.
_FORMATS = {"ml-100k": (b"\t", False), "ml-1m": (b"::", False), "ml-latest-small": (b",", True)}


# ----- public API -------------------------------------------------------------------------
def default_data_dir() -> Path:
    """The per-user cache folder, the last place `load_movielens` looks in.

    Returns
    -------
    pathlib.Path
        ``$XDG_CACHE_HOME/als_lib``, by default ``~/.cache/als_lib``.
    """
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "als_lib"


def load_movielens(
    name: str = "ml-100k",
    data_dir: str | os.PathLike | None = None,
    *,
    download: bool = True,
    progress: bool = True,
) -> Ratings:
    """Load a MovieLens dataset as `Ratings`, with item titles and timestamps.

    Parameters
    ----------
    name : str
        ``"ml-100k"``, ``"ml-latest-small"`` or ``"ml-1m"`` (see `DATASETS`).
    data_dir : str or os.PathLike, optional
        The folder to look in (and download to). Default: the folder named by the
        environment variable ``ALS_LIB_DATA_DIR`` if set, then `default_data_dir()`.
    download : bool
        Fetch the zip from GroupLens when no folder has the data.
    progress : bool
        Show a progress bar while downloading.

    Returns
    -------
    Ratings
        Indexed by sorted original ids (``user_ids``, ``item_ids``), with ``item_titles``.

    Raises
    ------
    ChecksumError
        A file (zip, extracted file, or download) does not have its pinned size or sha256;
        it is not used.
    DatasetUnavailableError
        No folder has the data and it could not be downloaded (offline, ``download=False``,
        or no writable folder); the message names the URL, the folder and ``ALS_LIB_DATA_DIR``.
    ValueError
        An unknown ``name``, an unsafe or unreadable zip, or a malformed line (the message
        names the file and the line).
    """
    spec = _spec(name)
    src = _locate(spec, data_dir, download, progress)
    return _ratings(src, spec.ratings_file, _titles(src), name)


def load_movielens_fold(
    fold: int | str = 1,
    data_dir: str | os.PathLike | None = None,
    *,
    download: bool = True,
    progress: bool = True,
) -> tuple[Ratings, Ratings]:
    """One of ml-100k's official splits as ``(train, test)``, for published protocols.

    Parameters
    ----------
    fold : int or str
        1..5 (``u1``..``u5``: five disjoint 80/20 splits) or ``"a"``/``"b"`` (``ua``/``ub``:
        exactly 10 ratings per user in test).
    data_dir : str or os.PathLike, optional
        The folder to look in (and download to), as in `load_movielens`.
    download : bool
        Download ml-100k if it is not there, as in `load_movielens`.
    progress : bool
        Show a progress bar while downloading.

    Returns
    -------
    train, test : Ratings
        Both in the index space of the whole of ``u.data``, so they line up with
        ``load_movielens("ml-100k")``.

    Raises
    ------
    ValueError
        An unknown fold; otherwise as `load_movielens`.
    """
    spec = DATASETS["ml-100k"]
    key = f"u{fold}"
    if f"{key}.base" not in spec.files:
        raise ValueError(f"fold must be 1, 2, 3, 4, 5, 'a' or 'b'; got {fold!r}.")
    src = _locate(spec, data_dir, download, progress)
    full = _ratings(src, spec.ratings_file, _titles(src), "ml-100k")
    parts = []
    for part in ("base", "test"):
        users, items, values, ts = _read_table(src, f"{key}.{part}")
        u = np.searchsorted(full.user_ids, users).clip(0, full.n_users - 1)
        i = np.searchsorted(full.item_ids, items).clip(0, full.n_items - 1)
        if (full.user_ids[u] != users).any() or (full.item_ids[i] != items).any():
            raise ValueError(f"ml-100k/{key}.{part} holds ids that u.data does not have.")
        # every (user, item) pair of a fold is a distinct pair of the checked u.data
        parts.append(Ratings._trusted(
            u, i, values, full.n_users, full.n_items, ts, full.user_ids, full.item_ids,
            full.item_titles, f"ml-100k {key}.{part}",
        ))
    return parts[0], parts[1]


def movie_genres(
    name: str = "ml-100k",
    data_dir: str | os.PathLike | None = None,
    *,
    download: bool = True,
    progress: bool = True,
) -> dict[int, tuple[str, ...]]:
    """The genres of every movie of a MovieLens dataset, by original movie id.

    Read from the same verified files as the titles: ``movies.csv`` (ml-latest-small,
    ``Adventure|Animation|...``), ``movies.dat`` (ml-1m, the same form) or ``u.item`` (ml-100k,
    19 flags, one per genre, named by ``u.genre``). The keys are the original ids, as in
    ``Ratings.item_ids``: ``genres[ratings.item_ids[i]]`` are item ``i``'s genres.

    Parameters
    ----------
    name : str
        ``"ml-100k"``, ``"ml-latest-small"`` or ``"ml-1m"`` (see `DATASETS`).
    data_dir : str or os.PathLike, optional
        The folder to look in (and download to), as in `load_movielens`.
    download : bool
        Fetch the zip from GroupLens when no folder has the data.
    progress : bool
        Show a progress bar while downloading.

    Returns
    -------
    dict of int to tuple of str
        Every movie of the dataset's movie list (a few may have no ratings) -> its genre
        names in the file's order. A movie without a genre (ml-latest-small's
        ``(no genres listed)``, ml-100k's ``unknown``) maps to an empty tuple.

    Raises
    ------
    ValueError
        An unknown ``name``, or a movie line that does not have the expected fields.
    ChecksumError, DatasetUnavailableError
        As in `load_movielens`.
    """
    spec = _spec(name)
    return _genres(_locate(spec, data_dir, download, progress))


def _spec(name: str) -> DatasetSpec:
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(
            f"unknown dataset {name!r}; choose one of {', '.join(sorted(DATASETS))}."
        ) from None


# ----- data folders -------------------------------------------------------------------------
def _candidate_dirs(data_dir) -> list[Path]:
    if data_dir is not None:
        return [Path(data_dir).expanduser()]
    dirs = []
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        dirs.append(Path(env).expanduser())
    dirs.append(default_data_dir())
    return dirs


def _writable(path: Path) -> bool:
    """May we create files here? A folder without write bits counts as read-only even for
    root (CI's pre-seeded copy is such a folder): we never write into it."""
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            return False
        probe = probe.parent
    try:
        mode = probe.stat().st_mode
    except OSError:
        return False
    return bool(mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)) and os.access(probe, os.W_OK)


def _locate(spec: DatasetSpec, data_dir=None, download=True, progress=True) -> _Source:
    """Find a verified copy of ``spec`` in the data folders, downloading it if none has one."""
    dirs = _candidate_dirs(data_dir)
    for d in dirs:
        folder = d / spec.folder
        if (folder / spec.ratings_file).is_file():
            path = folder / spec.ratings_file
            _check_sha256(_sha256_file(path), spec.files[spec.ratings_file], str(path))
            return _Source(spec, folder=folder)
        zip_path = d / f"{spec.name}.zip"
        if zip_path.is_file():
            _check_zip(zip_path, spec)
            if _writable(d):
                _extract(zip_path, d)
                return _Source(spec, folder=folder)
            return _Source(spec, zip_path=zip_path)  # read-only: read in place
    target = next((d for d in dirs if _writable(d)), None)
    if target is None:
        raise DatasetUnavailableError(_offline_message(
            spec, dirs[-1], "no writable data folder among " + ", ".join(map(str, dirs))
        ))
    if not download:
        raise DatasetUnavailableError(_offline_message(spec, target, "download=False"))
    _extract(_download(spec, target, progress), target)
    return _Source(spec, folder=target / spec.folder)


def _offline_message(spec: DatasetSpec, folder: Path, reason=None) -> str:
    why = f" ({reason})" if reason else ""
    return (
        f"{spec.name} is not available offline and could not be downloaded from {spec.url}"
        f"{why}. Download that file on a machine with internet access and put it at "
        f"{folder / (spec.name + '.zip')} (or its extracted folder at {folder / spec.folder}), "
        f"or set the environment variable {DATA_DIR_ENV} to a folder that holds it."
    )


# ----- downloads (pooch) -------------------------------------------------------------------
def _download(spec: DatasetSpec, dest_dir: Path, progress: bool = True) -> Path:
    """Fetch ``spec.url`` into ``dest_dir`` with pooch: streamed to a temporary file in that
    folder, moved to ``<name>.zip`` only once its sha256 matches, deleted otherwise."""
    import pooch
    import requests

    downloader = pooch.HTTPDownloader(progressbar=progress, timeout=30)
    try:
        with _pooch_log(verbose=progress):
            path = pooch.retrieve(
                spec.url, known_hash=f"sha256:{spec.zip_sha256}", fname=f"{spec.name}.zip",
                path=dest_dir, downloader=downloader,
            )
    except requests.exceptions.RequestException as e:
        raise DatasetUnavailableError(_offline_message(spec, dest_dir, e)) from None
    except ValueError as e:
        if "does not match the known hash" not in str(e):
            raise
        got = re.search(r"but got ([0-9a-fA-F]{64})", str(e))
        raise ChecksumError(
            f"the download of {spec.url} does not match: expected sha256 {spec.zip_sha256}, "
            f"got {got.group(1) if got else f'another ({e})'}. It was discarded; try again, "
            "or fetch the file by hand and check it."
        ) from None
    return Path(path)


@contextlib.contextmanager
def _pooch_log(verbose: bool):
    """pooch logs "Downloading data from ..." at INFO level: silenced unless ``verbose``."""
    import pooch

    logger = pooch.get_logger()
    level = logger.level
    if not verbose:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


# ----- checksums and safe extraction ------------------------------------------------------
def _sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def _check_sha256(actual: str, expected: str, what: str) -> None:
    if actual != expected:
        raise ChecksumError(
            f"{what} has the wrong checksum: expected sha256 {expected}, got {actual}. The file "
            "is damaged or not the GroupLens original, so it is not used. Delete it (a fresh "
            "download replaces it) or put the original in its place."
        )


def _check_zip(path: Path, spec: DatasetSpec) -> None:
    size = path.stat().st_size
    if size != spec.zip_size:
        why = "truncated: an interrupted download?" if size < spec.zip_size else "too long"
        raise ChecksumError(
            f"{path} is {size} bytes but {spec.name}.zip must be {spec.zip_size} bytes "
            f"({why}). It is not used. Delete it and download it again."
        )
    _check_sha256(_sha256_file(path), spec.zip_sha256, str(path))


def _safe_members(zf: zipfile.ZipFile, target: Path) -> list[zipfile.ZipInfo]:
    """Every member of ``zf``, after checking that none would land outside ``target`` and
    none is a symbolic link."""
    root = target.resolve()
    members = zf.infolist()
    for m in members:
        name = m.filename
        dest = (root / name).resolve()
        if (
            name.startswith(("/", "\\")) or ":" in name.split("/")[0]
            or (dest != root and root not in dest.parents)
        ):
            raise ValueError(
                f"refusing to extract {name!r} from {zf.filename}: the path escapes the target "
                f"folder {target}. The archive is unsafe; it was not extracted."
            )
        if stat.S_ISLNK(m.external_attr >> 16):
            raise ValueError(
                f"refusing to extract {name!r} from {zf.filename}: it is a symbolic link."
            )
    return members


def _open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile as e:
        raise ValueError(
            f"{path} is not a readable zip archive ({e}); it may be truncated. Delete it and "
            "download it again."
        ) from None


def _extract(zip_path: Path, dest_dir: Path) -> None:
    """Extract into a temporary folder beside the target, then rename: never half a folder."""
    with _open_zip(zip_path) as zf:
        tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=dest_dir))
        try:
            members = _safe_members(zf, tmp)
            zf.extractall(tmp, members)
            for child in tmp.iterdir():
                final = dest_dir / child.name
                if not final.exists():
                    os.replace(child, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class _Source:
    """Reads a dataset's files, verified, from an extracted folder or straight from its zip."""

    def __init__(self, spec: DatasetSpec, folder: Path | None = None, zip_path=None):
        self.spec, self.folder, self.zip_path = spec, folder, zip_path

    def read(self, name: str) -> bytes:
        expected = self.spec.files.get(name)
        if self.folder is not None:
            path = self.folder / name
            if not path.is_file():
                raise FileNotFoundError(f"{path} is missing from the {self.spec.name} folder.")
            data = path.read_bytes()
            what = str(path)
        else:
            with _open_zip(self.zip_path) as zf:
                _safe_members(zf, Path(self.spec.folder))
                member = f"{self.spec.folder}/{name}"
                try:
                    data = zf.read(member)
                except KeyError:
                    raise FileNotFoundError(f"{member} is missing from {self.zip_path}.") from None
            what = f"{self.zip_path}:{member}"
        if expected is not None:
            _check_sha256(hashlib.sha256(data).hexdigest(), expected, what)
        return data


# ----- parsing ----------------------------------------------------------------------------
def _ratings(src: _Source, file: str, titles: dict, name: str) -> Ratings:
    users, items, values, ts = _read_table(src, file)
    return Ratings.from_arrays(users, items, values, ts, item_titles=titles, name=name)


def _read_table(src: _Source, file: str):
    sep, header = _FORMATS.get(src.spec.name, (b"\t", False))
    return _parse_ratings(src.read(file), sep, f"{src.spec.name}/{file}", header)


def _movie_rows(src: _Source) -> tuple[str, list[tuple[int, list[str]]]]:
    """The dataset's movie list as ``(file, [(line number, fields), ...])``: ``u.item``
    (``|``-separated), ``movies.dat`` (``::``) or ``movies.csv`` (after its header)."""
    name = src.spec.name
    if name in ("ml-100k", "ml-1m"):
        file, sep = ("u.item", "|") if name == "ml-100k" else ("movies.dat", "::")
        lines = src.read(file).decode("latin-1").splitlines()
        return file, [(n, line.split(sep)) for n, line in enumerate(lines, 1) if line]
    rows = csv.reader(io.StringIO(src.read("movies.csv").decode("utf-8"), newline=""))
    next(rows)
    return "movies.csv", [(n, r) for n, r in enumerate(rows, 2) if r]


def _titles(src: _Source) -> dict:
    return {int(f[0]): f[1] for _, f in _movie_rows(src)[1]}


#: sha256 of ml-100k's ``u.genre`` (the genre names), read only by `movie_genres`.
_U_GENRE_SHA256 = "9757e0d3e6b298159a80dd48eaf938114690e911e39af97a76949ef1663610bb"
#: What each dataset writes for a movie without a genre.
_NO_GENRE = {"unknown", "(no genres listed)"}


def _genres(src: _Source) -> dict:
    name = src.spec.name
    if name == "ml-100k":
        raw = src.read("u.genre")
        expected = src.spec.files.get("u.genre", _U_GENRE_SHA256)
        _check_sha256(hashlib.sha256(raw).hexdigest(), expected, f"{name}/u.genre")
        names = {}
        for line in raw.decode("latin-1").splitlines():
            if line:
                genre, index = line.rsplit("|", 1)
                names[int(index)] = genre
        columns = [names[j] for j in range(len(names))]
    file, rows = _movie_rows(src)
    out = {}
    for n, f in rows:
        if name == "ml-100k":
            flags = f[5:]
            if len(flags) != len(columns):
                raise ValueError(
                    f"{name}/{file}, line {n}: expected {len(columns)} genre flags after 5 "
                    f"fields, found {len(flags)}."
                )
            genres = [g for g, flag in zip(columns, flags) if flag == "1"]
        else:
            if len(f) != 3:
                raise ValueError(f"{name}/{file}, line {n}: expected 3 fields, found {len(f)}.")
            genres = f[2].split("|")
        out[int(f[0])] = tuple(g for g in genres if g and g not in _NO_GENRE)
    return out
