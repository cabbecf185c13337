"""MovieLens loading: pinned checksums, data folders, downloads, safe extraction, formats.

Download tests serve small fake datasets from a local HTTP server on 127.0.0.1; the real
files are only read from the pre-seeded folder named by ALS_LIB_DATA_DIR.
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import io
import os
import stat
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

from als_lib import data as D

# ---------------------------------------------------------------- fake ml-100k --------
U_DATA = b"1\t10\t4\t881250949\n1\t20\t5\t881250950\n2\t10\t3\t881250951\n3\t30\t1\t881250952\n"
U_ITEM = "10|Les Mis\u00e9rables (1995)|x\n20|Heat (1995)|x\n30|Fargo (1996)|x\n".encode("latin-1")


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def make_zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return buf.getvalue()


GOOD_ZIP = make_zip({"ml-100k/u.data": U_DATA, "ml-100k/u.item": U_ITEM})


def fake_spec(zip_bytes: bytes = GOOD_ZIP, url: str = "http://127.0.0.1:9/ml-100k.zip", **files):
    pinned = {"u.data": sha(U_DATA), "u.item": sha(U_ITEM)}
    pinned.update(files)
    return D.DatasetSpec(
        "ml-100k", url, len(zip_bytes), sha(zip_bytes), "ml-100k", "u.data", pinned
    )


@pytest.fixture
def use_spec(monkeypatch):
    def install(spec):
        monkeypatch.setitem(D.DATASETS, "ml-100k", spec)
        return spec
    return install


@pytest.fixture
def server():
    """Serve bytes at http://127.0.0.1:PORT/<name>; yields (base_url, files dict). A value
    ``(body, n)`` announces ``n`` bytes but sends only ``body`` (a dropped connection)."""
    files: dict[str, bytes | tuple[bytes, int]] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = files.get(self.path.lstrip("/"))
            if body is None:  # (a tuple (bytes, n) announces n bytes: a connection cut short)
                self.send_error(404)
                return
            body, announced = body if isinstance(body, tuple) else (body, len(body))
            self.send_response(200)
            self.send_header("Content-Length", str(announced))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", files
    httpd.shutdown()
    httpd.server_close()


def snapshot(folder: Path) -> dict:
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
    }


def make_read_only(folder: Path) -> None:
    for p in [folder, *folder.rglob("*")]:
        p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


# ---------------------------------------------------------------- downloads ----------
def test_download_verify_extract_and_parse(server, use_spec, tmp_path):
    base, files = server
    files["ml-100k.zip"] = GOOD_ZIP
    use_spec(fake_spec(url=f"{base}/ml-100k.zip"))
    r = D.load_movielens("ml-100k", data_dir=tmp_path, progress=False)
    assert (r.nnz, r.n_users, r.n_items) == (4, 3, 3)
    assert r.title(r.item_index(10)) == "Les Mis\u00e9rables (1995)"  # u.item is Latin-1
    assert sorted(r.timestamps.tolist()) == [881250949, 881250950, 881250951, 881250952]
    assert sorted(r.values.tolist()) == [1.0, 3.0, 4.0, 5.0]
    assert (tmp_path / "ml-100k.zip").read_bytes() == GOOD_ZIP
    assert (tmp_path / "ml-100k" / "u.data").read_bytes() == U_DATA
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left
    # second load: found on disk, the server is not asked again
    files.clear()
    assert D.load_movielens("ml-100k", data_dir=tmp_path, progress=False).nnz == 4


def test_download_with_wrong_checksum_is_discarded(server, use_spec, tmp_path):
    base, files = server
    files["ml-100k.zip"] = GOOD_ZIP[:-1] + b"X"  # same size, different bytes
    use_spec(fake_spec(url=f"{base}/ml-100k.zip"))
    with pytest.raises(D.ChecksumError) as err:
        D.load_movielens("ml-100k", data_dir=tmp_path, progress=False)
    msg = str(err.value)
    assert sha(GOOD_ZIP) in msg and sha(files["ml-100k.zip"]) in msg  # expected and actual
    assert list(tmp_path.iterdir()) == []  # nothing kept, not even the partial file


def test_offline_error_names_url_variable_and_folder(use_spec, tmp_path):
    spec = use_spec(fake_spec(url="http://127.0.0.1:1/ml-100k.zip"))  # nothing listens on port 1
    with pytest.raises(D.DatasetUnavailableError) as err:
        D.load_movielens("ml-100k", data_dir=tmp_path, progress=False)
    msg = str(err.value)
    assert spec.url in msg and D.DATA_DIR_ENV in msg and str(tmp_path / "ml-100k.zip") in msg
    assert list(tmp_path.iterdir()) == []


def test_download_false_never_touches_the_network(use_spec, tmp_path):
    use_spec(fake_spec(url="http://127.0.0.1:1/ml-100k.zip"))
    with pytest.raises(D.DatasetUnavailableError, match="download=False"):
        D.load_movielens("ml-100k", data_dir=tmp_path, download=False)


def test_env_variable_and_cache_resolution(use_spec, tmp_path, monkeypatch):
    use_spec(fake_spec())
    seeded = tmp_path / "seeded"
    (seeded / "ml-100k").mkdir(parents=True)
    (seeded / "ml-100k" / "u.data").write_bytes(U_DATA)
    (seeded / "ml-100k" / "u.item").write_bytes(U_ITEM)
    monkeypatch.setenv(D.DATA_DIR_ENV, str(seeded))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert D.default_data_dir() == tmp_path / "cache" / "als_lib"
    assert D.load_movielens("ml-100k", download=False).nnz == 4
    monkeypatch.delenv(D.DATA_DIR_ENV)
    with pytest.raises(D.DatasetUnavailableError, match=str(tmp_path / "cache" / "als_lib")):
        D.load_movielens("ml-100k", download=False)


def test_download_not_found_is_unavailable(server, use_spec, tmp_path):
    base, _ = server  # serves nothing: 404
    spec = use_spec(fake_spec(url=f"{base}/ml-100k.zip"))
    with pytest.raises(D.DatasetUnavailableError, match="404") as err:
        D.load_movielens("ml-100k", data_dir=tmp_path, progress=False)
    assert spec.url in str(err.value) and D.DATA_DIR_ENV in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_download_cut_short_is_unavailable_and_leaves_nothing(server, use_spec, tmp_path):
    base, files = server
    files["ml-100k.zip"] = (GOOD_ZIP[: len(GOOD_ZIP) // 2], len(GOOD_ZIP))
    use_spec(fake_spec(url=f"{base}/ml-100k.zip"))
    with pytest.raises(D.DatasetUnavailableError, match="could not be downloaded"):
        D.load_movielens("ml-100k", data_dir=tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_truncated_download_fails_the_checksum(server, use_spec, tmp_path):
    base, files = server
    files["ml-100k.zip"] = GOOD_ZIP[:-10]  # complete as announced, but not the pinned file
    use_spec(fake_spec(url=f"{base}/ml-100k.zip"))
    with pytest.raises(D.ChecksumError, match="discarded") as err:
        D.load_movielens("ml-100k", data_dir=tmp_path, progress=False)
    assert sha(GOOD_ZIP) in str(err.value) and sha(GOOD_ZIP[:-10]) in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_download_progress_is_shown_only_when_asked(server, use_spec, tmp_path, capfd):
    import pooch

    base, files = server
    files["ml-100k.zip"] = GOOD_ZIP
    use_spec(fake_spec(url=f"{base}/ml-100k.zip"))
    level = pooch.get_logger().level
    D.load_movielens("ml-100k", data_dir=tmp_path / "quiet", progress=False)
    assert capfd.readouterr().err == ""
    assert pooch.get_logger().level == level  # pooch's logger is left as it was
    D.load_movielens("ml-100k", data_dir=tmp_path / "loud", progress=True)
    err = capfd.readouterr().err
    assert "100%" in err and f"{len(GOOD_ZIP)}/{len(GOOD_ZIP)}" in err  # tqdm bar, full size


# ---------------------------------------------------------------- bad files ---------
def test_truncated_zip_is_refused(use_spec, tmp_path):
    use_spec(fake_spec())
    (tmp_path / "ml-100k.zip").write_bytes(GOOD_ZIP[: len(GOOD_ZIP) // 2])
    with pytest.raises(D.ChecksumError, match="truncated"):
        D.load_movielens("ml-100k", data_dir=tmp_path)
    assert not (tmp_path / "ml-100k").exists()


def test_unreadable_zip_with_matching_checksum(use_spec, tmp_path):
    junk = b"PK this is not a zip archive"
    use_spec(fake_spec(zip_bytes=junk))
    (tmp_path / "ml-100k.zip").write_bytes(junk)
    with pytest.raises(ValueError, match="not a readable zip"):
        D.load_movielens("ml-100k", data_dir=tmp_path)


def test_extracted_file_with_wrong_checksum(use_spec, tmp_path):
    use_spec(fake_spec())
    (tmp_path / "ml-100k").mkdir()
    bad = U_DATA.replace(b"\t4\t", b"\t5\t")
    (tmp_path / "ml-100k" / "u.data").write_bytes(bad)
    with pytest.raises(D.ChecksumError) as err:
        D.load_movielens("ml-100k", data_dir=tmp_path)
    assert sha(U_DATA) in str(err.value) and sha(bad) in str(err.value)


@pytest.mark.parametrize("evil", ["ml-100k/../../escaped.txt", "/tmp/absolute-escape.txt"])
def test_zip_member_escaping_the_folder_is_refused(use_spec, tmp_path, evil):
    z = make_zip({"ml-100k/u.data": U_DATA, evil: b"gotcha"})
    use_spec(fake_spec(zip_bytes=z))
    target = tmp_path / "data"
    target.mkdir()
    (target / "ml-100k.zip").write_bytes(z)
    with pytest.raises(ValueError, match="escapes the target folder"):
        D.load_movielens("ml-100k", data_dir=target)
    assert not (tmp_path / "escaped.txt").exists()
    assert sorted(p.name for p in target.iterdir()) == ["ml-100k.zip"]  # nothing extracted


def test_read_only_folder_with_extracted_copy_is_used_in_place(use_spec, tmp_path):
    use_spec(fake_spec())
    (tmp_path / "ml-100k").mkdir()
    (tmp_path / "ml-100k" / "u.data").write_bytes(U_DATA)
    (tmp_path / "ml-100k" / "u.item").write_bytes(U_ITEM)
    make_read_only(tmp_path)
    before = snapshot(tmp_path)
    assert D.load_movielens("ml-100k", data_dir=tmp_path).nnz == 4
    assert snapshot(tmp_path) == before


def test_read_only_folder_with_only_the_zip_is_read_in_place(use_spec, tmp_path):
    use_spec(fake_spec())
    (tmp_path / "ml-100k.zip").write_bytes(GOOD_ZIP)
    make_read_only(tmp_path)
    before = snapshot(tmp_path)
    r = D.load_movielens("ml-100k", data_dir=tmp_path)
    assert r.nnz == 4 and r.title(r.item_index(30)) == "Fargo (1996)"
    assert snapshot(tmp_path) == before  # not extracted: the folder is never written


def test_read_only_env_folder_without_the_dataset_downloads_elsewhere(
    server, use_spec, tmp_path, monkeypatch
):
    base, files = server
    files["ml-100k.zip"] = GOOD_ZIP
    use_spec(fake_spec(url=f"{base}/ml-100k.zip"))
    seeded = tmp_path / "seeded"
    seeded.mkdir()
    make_read_only(seeded)
    monkeypatch.setenv(D.DATA_DIR_ENV, str(seeded))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert D.load_movielens("ml-100k", progress=False).nnz == 4
    assert list(seeded.iterdir()) == []
    assert (tmp_path / "cache" / "als_lib" / "ml-100k" / "u.data").is_file()


@pytest.mark.parametrize("extra, message", [
    (b"4\t10\n", r"u.data, line 5: expected 4 fields"),  # too few fields
    (b"4\t10\t3\t881250953\t9\n", r"u.data, line 5: expected 4 fields"),  # too many
    (b"4\tten\t3\t881250953\n", r"u.data, line 5: the item id must be an integer; got b'ten'"),
    (b"4\t10\tNaN\t881250953\n", r"u.data, line 5: the rating must be a finite number"),
    (b"4\t10\tinf\t881250953\n", r"u.data, line 5: the rating must be a finite number"),
    (b"4\t10.5\t3\t881250953\n", r"u.data, line 5: the item id must be an integer"),
    (b"\n4\t10\t3\t881250953\n", r"u.data, line 5: expected 4 fields, got b''"),  # blank
])
def test_malformed_line_names_file_and_line(use_spec, tmp_path, extra, message):
    broken = U_DATA + extra
    use_spec(fake_spec(**{"u.data": sha(broken)}))
    (tmp_path / "ml-100k").mkdir()
    (tmp_path / "ml-100k" / "u.data").write_bytes(broken)
    (tmp_path / "ml-100k" / "u.item").write_bytes(U_ITEM)
    with pytest.raises(ValueError, match=message):
        D.load_movielens("ml-100k", data_dir=tmp_path)


def test_malformed_first_line_too_many_fields(use_spec, tmp_path):
    broken = b"1\t10\t4\t881250949\t7\n" + U_DATA
    use_spec(fake_spec(**{"u.data": sha(broken)}))
    (tmp_path / "ml-100k").mkdir()
    (tmp_path / "ml-100k" / "u.data").write_bytes(broken)
    (tmp_path / "ml-100k" / "u.item").write_bytes(U_ITEM)
    with pytest.raises(ValueError, match=r"u.data, line 1: expected 4 fields"):
        D.load_movielens("ml-100k", data_dir=tmp_path)


def _seed_folder(monkeypatch, root: Path, name: str, ratings_file: str, files: dict) -> None:
    """A pre-extracted fake of dataset ``name`` (its files pinned to what is written)."""
    (root / name).mkdir(parents=True)
    for file, content in files.items():
        (root / name / file).write_bytes(content)
    spec = D.DatasetSpec(name, f"http://127.0.0.1:1/{name}.zip", 1, "0" * 64, name, ratings_file,
                         {file: sha(content) for file, content in files.items()})
    monkeypatch.setitem(D.DATASETS, name, spec)


def test_ml1m_format_double_colon(monkeypatch, tmp_path):
    ratings = b"1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n"
    movies = (
        b"1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
        b"661::James and the Giant Peach (1996)::Animation\n"
    )
    _seed_folder(monkeypatch, tmp_path, "ml-1m", "ratings.dat",
                 {"ratings.dat": ratings, "movies.dat": movies})
    r = D.load_movielens("ml-1m", data_dir=tmp_path)
    assert (r.nnz, r.n_users, r.n_items) == (3, 2, 2)
    assert r.title(r.item_index(661)) == "James and the Giant Peach (1996)"
    assert sorted(r.values.tolist()) == [3.0, 4.0, 5.0] and r.timestamps.max() == 978302109
    bad = ratings + b"3::1193:4::978298413\n"  # one colon short: 3 fields
    (tmp_path / "ml-1m" / "ratings.dat").chmod(0o644)
    (tmp_path / "ml-1m" / "ratings.dat").write_bytes(bad)
    monkeypatch.setitem(D.DATASETS, "ml-1m", dataclasses.replace(
        D.DATASETS["ml-1m"], files={"ratings.dat": sha(bad), "movies.dat": sha(movies)}))
    with pytest.raises(ValueError, match=r"ml-1m/ratings.dat, line 4: expected 4 fields"):
        D.load_movielens("ml-1m", data_dir=tmp_path)


def test_ml_latest_small_csv_header_and_line_numbers(monkeypatch, tmp_path):
    ratings = b"userId,movieId,rating,timestamp\r\n1,1,4.0,964982703\r\n1,3,4.5,964981247\r\n"
    movies = (
        b'movieId,title,genres\r\n1,Toy Story (1995),Comedy\r\n3,"Heat, The (1995)",Action\r\n'
    )
    _seed_folder(monkeypatch, tmp_path / "ok", "ml-latest-small", "ratings.csv",
                 {"ratings.csv": ratings, "movies.csv": movies})
    r = D.load_movielens("ml-latest-small", data_dir=tmp_path / "ok")
    assert sorted(r.values.tolist()) == [4.0, 4.5]
    assert r.title(r.item_index(3)) == "Heat, The (1995)"  # a quoted title with a comma
    bad = ratings + b"2,x,3.0,964981247\r\n"
    _seed_folder(monkeypatch, tmp_path / "bad", "ml-latest-small", "ratings.csv",
                 {"ratings.csv": bad, "movies.csv": movies})
    with pytest.raises(ValueError, match=r"ratings.csv, line 4: the item id must be an integer"):
        D.load_movielens("ml-latest-small", data_dir=tmp_path / "bad")


def test_unknown_dataset_and_fold():
    with pytest.raises(ValueError, match="unknown dataset 'ml-5m'; choose one of"):
        D.load_movielens("ml-5m")
    with pytest.raises(ValueError, match="fold must be"):
        D.load_movielens_fold(6)


def test_pinned_table_matches_the_issue():
    assert D.DATASETS["ml-latest-small"].zip_size == 978202
    assert D.DATASETS["ml-100k"].zip_sha256.startswith("50d2a982")
    assert D.DATASETS["ml-1m"].files["ratings.dat"].startswith("506d64ca")
    for spec in D.DATASETS.values():
        assert spec.url == f"https://files.grouplens.org/datasets/movielens/{spec.name}.zip"
        assert spec.ratings_file in spec.files


# ---------------------------------------------------------------- the real data ------
def test_real_ml100k_counts_and_titles(ml100k):
    assert (ml100k.nnz, ml100k.n_users, ml100k.n_items) == (100000, 943, 1682)
    assert set(np.unique(ml100k.values)) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert ml100k.title(ml100k.item_index(1)) == "Toy Story (1995)"
    assert any("\u00e9" in t for t in ml100k.item_titles)  # Latin-1 decoded, not mangled
    assert ml100k.timestamps.min() == 874724710


def test_real_ml_latest_small_counts_and_csv(ml_small):
    assert (ml_small.nnz, ml_small.n_users, ml_small.n_items) == (100836, 610, 9724)
    assert ml_small.values.min() == 0.5 and ml_small.values.max() == 5.0
    # a quoted title with a comma, and no stray carriage returns from the CRLF files
    assert ml_small.title(ml_small.item_index(11)) == "American President, The (1995)"
    assert not any("\r" in t for t in ml_small.item_titles)


def test_real_official_folds_partition_u_data(ml100k):
    for fold in (1, 5, "a"):
        base, test = D.load_movielens_fold(fold, progress=False)
        assert base.shape == test.shape == ml100k.shape
        key = lambda r: set(zip(r.users.tolist(), r.items.tolist()))
        assert not key(base) & key(test)
        assert key(base) | key(test) == key(ml100k)
    assert (base.nnz, test.nnz) == (90570, 9430)


def test_real_preseeded_folder_is_not_written(ml100k):
    folder = os.environ.get(D.DATA_DIR_ENV)
    if not folder:
        pytest.skip(f"{D.DATA_DIR_ENV} is not set")
    before = snapshot(Path(folder))
    D.load_movielens("ml-100k", download=False)
    D.load_movielens("ml-latest-small", download=False)
    assert snapshot(Path(folder)) == before


# ---------------------------------------------------------------- genres -------------
GENRE_NAMES = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
               "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
               "Romance", "Sci-Fi", "Thriller", "War", "Western"]
U_GENRE = "".join(f"{g}|{j}\n" for j, g in enumerate(GENRE_NAMES)) + "\n"


def _u_item_line(movie: int, title: str, genres: set[str]) -> str:
    flags = "|".join("1" if g in genres else "0" for g in GENRE_NAMES)
    return f"{movie}|{title}|01-Jan-1995||http://example.org|{flags}\n"


def test_genres_ml100k_flags_named_by_u_genre(monkeypatch, tmp_path):
    assert D.movie_genres is D.movielens.movie_genres
    assert sha(U_GENRE.encode()) == D.movielens._U_GENRE_SHA256   # the GroupLens u.genre
    item = (_u_item_line(10, "Les Mis\u00e9rables (1995)", {"Drama", "Musical"})
            + _u_item_line(20, "Heat (1995)", {"Action", "Crime", "Thriller"})
            + _u_item_line(30, "Nothing (1996)", {"unknown"})).encode("latin-1")
    _seed_folder(monkeypatch, tmp_path, "ml-100k", "u.data", {"u.data": U_DATA, "u.item": item})
    # u.genre is not in the fake spec's table: it is checked against the real pinned hash
    (tmp_path / "ml-100k" / "u.genre").write_text(U_GENRE)
    genres = D.movie_genres("ml-100k", data_dir=tmp_path)
    assert genres == {10: ("Drama", "Musical"), 20: ("Action", "Crime", "Thriller"), 30: ()}


def test_genres_ml100k_damaged_u_genre_or_u_item(monkeypatch, tmp_path):
    item = _u_item_line(10, "Heat (1995)", {"Action"}).encode()
    _seed_folder(monkeypatch, tmp_path / "a", "ml-100k", "u.data",
                 {"u.data": U_DATA, "u.item": item})
    (tmp_path / "a" / "ml-100k" / "u.genre").write_text(U_GENRE.replace("Sci-Fi", "SciFi"))
    with pytest.raises(D.ChecksumError, match="u.genre has the wrong checksum"):
        D.movie_genres("ml-100k", data_dir=tmp_path / "a")
    short = item.replace(b"|0\n", b"\n")                        # 18 flags, not 19
    _seed_folder(monkeypatch, tmp_path / "b", "ml-100k", "u.data",
                 {"u.data": U_DATA, "u.item": short})
    (tmp_path / "b" / "ml-100k" / "u.genre").write_text(U_GENRE)
    with pytest.raises(ValueError, match=r"u.item, line 1: expected 19 genre flags"):
        D.movie_genres("ml-100k", data_dir=tmp_path / "b")


def test_genres_ml1m_and_ml_latest_small(monkeypatch, tmp_path):
    movies = (b"1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
              b"661::James and the Giant Peach (1996)::Animation|Children's|Musical\n")
    _seed_folder(monkeypatch, tmp_path, "ml-1m", "ratings.dat",
                 {"ratings.dat": b"1::1193::5::978300760\n", "movies.dat": movies})
    assert D.movie_genres("ml-1m", data_dir=tmp_path) == {
        1193: ("Drama",), 661: ("Animation", "Children's", "Musical")}
    csv_movies = (b'movieId,title,genres\r\n1,Toy Story (1995),Adventure|Animation\r\n'
                  b'3,"Heat, The (1995)",Action\r\n7,Nobody (2018),(no genres listed)\r\n')
    _seed_folder(monkeypatch, tmp_path, "ml-latest-small", "ratings.csv",
                 {"ratings.csv": b"userId,movieId,rating,timestamp\r\n1,1,4.0,964982703\r\n",
                  "movies.csv": csv_movies})
    assert D.movie_genres("ml-latest-small", data_dir=tmp_path) == {
        1: ("Adventure", "Animation"), 3: ("Action",), 7: ()}
    bad = csv_movies + b"9,Broken (2000)\r\n"
    _seed_folder(monkeypatch, tmp_path / "bad", "ml-latest-small", "ratings.csv",
                 {"ratings.csv": b"userId,movieId,rating,timestamp\r\n", "movies.csv": bad})
    with pytest.raises(ValueError, match=r"movies.csv, line 5: expected 3 fields, found 2"):
        D.movie_genres("ml-latest-small", data_dir=tmp_path / "bad")


def test_genres_unknown_dataset():
    with pytest.raises(ValueError, match="unknown dataset 'ml-5m'; choose one of"):
        D.movie_genres("ml-5m")


def test_real_genres_cover_every_rated_movie(ml100k, ml_small):
    for ratings, name in ((ml100k, "ml-100k"), (ml_small, "ml-latest-small")):
        genres = D.movie_genres(name, download=False, progress=False)
        assert set(ratings.item_ids.tolist()) <= set(genres)
    g100k = D.movie_genres("ml-100k", download=False, progress=False)
    assert len(g100k) == 1682 and g100k[1] == ("Animation", "Children's", "Comedy")
    small = D.movie_genres("ml-latest-small", download=False, progress=False)
    assert len(small) == 9742
    assert small[1] == ("Adventure", "Animation", "Children", "Comedy", "Fantasy")
    assert small[260] == ("Action", "Adventure", "Sci-Fi")
    assert sum(not g for g in small.values()) == 34          # "(no genres listed)"
