"""The Ratings container: construction, validation, conversions, ids, immutability."""

import copy
import dataclasses
import pickle

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from als_lib import TOY_MATRIX, Ratings, toy_ratings
from als_lib.data import as_ratings, index_array
from als_lib.linalg import ratings_csr


def test_toy_zeros_are_missing():
    toy = toy_ratings()
    assert toy.shape == (5, 4)
    assert toy.nnz == int((TOY_MATRIX > 0).sum()) == 13
    assert (toy.values > 0).all()
    dense = toy.to_dense()
    assert np.isnan(dense[TOY_MATRIX == 0]).all()
    assert np.array_equal(dense[TOY_MATRIX > 0], TOY_MATRIX[TOY_MATRIX > 0])


def test_from_dense_nan_marker_and_conflict():
    a = np.array([[1.0, np.nan], [0.0, 2.0]])
    r = Ratings.from_dense(a, missing=np.nan)
    assert r.nnz == 3 and 0.0 in r.values  # 0 is a real rating when NaN marks missing
    with pytest.raises(ValueError, match="missing=np.nan"):
        Ratings.from_dense(a, missing=0)


def test_from_arrays_maps_ids_and_titles():
    r = Ratings.from_arrays([30, 10, 30], [5, 5, 9], [1, 2, 3], item_titles={5: "five", 9: "nine"})
    assert list(r.user_ids) == [10, 30] and list(r.item_ids) == [5, 9]
    assert list(r.users) == [1, 0, 1] and list(r.items) == [0, 0, 1]
    assert r.user_index(30) == 1 and r.item_index(9) == 1
    assert r.title(1) == "nine"
    with pytest.raises(KeyError, match="unknown user id 99"):
        r.user_index(99)
    with pytest.raises(IndexError, match="out of range"):
        r.title(2)


def test_string_ids():
    r = Ratings.from_arrays(["bob", "amy"], ["x", "x"], [3, 4])
    assert list(r.user_ids) == ["amy", "bob"] and r.user_index("bob") == 1


def test_duplicates_raise_by_default():
    with pytest.raises(ValueError, match="duplicate .user, item. pairs.*duplicates='mean'"):
        Ratings.from_arrays([1, 1, 2], [7, 7, 7], [4.0, 5.0, 1.0])
    with pytest.raises(ValueError, match="duplicate"):
        Ratings(np.array([0, 0]), np.array([1, 1]), np.array([1.0, 2.0]))


def test_duplicates_mean_and_last_policies():
    users, items, values, ts = [1, 1, 1, 2], [7, 7, 8, 7], [4.0, 2.0, 5.0, 1.0], [20, 10, 5, 1]
    mean = Ratings.from_arrays(users, items, values, ts, duplicates="mean")
    assert mean.nnz == 3
    k = int(np.flatnonzero((mean.user_ids[mean.users] == 1) & (mean.item_ids[mean.items] == 7))[0])
    assert mean.values[k] == 3.0 and mean.timestamps[k] == 20
    last = Ratings.from_arrays(users, items, values, ts, duplicates="last")
    k = int(np.flatnonzero((last.user_ids[last.users] == 1) & (last.item_ids[last.items] == 7))[0])
    assert last.values[k] == 4.0  # timestamp 20 is the latest
    by_position = Ratings.from_arrays(users, items, values, duplicates="last")
    pos = by_position
    k = int(np.flatnonzero((pos.user_ids[pos.users] == 1) & (pos.item_ids[pos.items] == 7))[0])
    assert by_position.values[k] == 2.0  # no timestamps: the later position wins
    with pytest.raises(ValueError, match="duplicates must be"):
        Ratings.from_arrays(users, items, values, duplicates="sum")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_are_refused(bad):
    with pytest.raises(ValueError, match="must be finite"):
        Ratings.from_arrays([1, 2], [1, 1], [3.0, bad])


def test_negative_ids_and_indices_are_refused():
    with pytest.raises(ValueError, match="users ids must be non-negative; found -3"):
        Ratings.from_arrays([1, -3], [1, 1], [3.0, 4.0])
    with pytest.raises(ValueError, match="items must be non-negative indices"):
        Ratings(np.array([0, 1]), np.array([0, -1]), np.array([1.0, 2.0]))


def test_empty_data_is_refused():
    with pytest.raises(ValueError, match="no ratings"):
        Ratings(np.array([], dtype=int), np.array([], dtype=int), np.array([]))
    with pytest.raises(ValueError, match="no ratings"):
        Ratings.from_arrays([], [], [])
    with pytest.raises(ValueError, match="no ratings"):
        Ratings.from_dense(np.zeros((3, 3)), missing=0)


def test_shape_and_type_errors():
    with pytest.raises(ValueError, match="same length"):
        Ratings(np.array([0, 1]), np.array([0]), np.array([1.0, 2.0]))
    with pytest.raises(TypeError, match="integer indices"):
        Ratings(np.array([0.0, 1.0]), np.array([0, 1]), np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="n_users=2"):
        Ratings(np.array([0, 2]), np.array([0, 1]), np.array([1.0, 2.0]), n_users=2)
    with pytest.raises(ValueError, match="non-integer"):
        Ratings.from_arrays([1.5, 2.0], [1, 2], [3.0, 3.0])


def test_csr_round_trip_and_coo_duplicates():
    toy = toy_ratings()
    csr = toy.to_csr()
    assert sp.issparse(csr) and csr.shape == (5, 4) and csr.nnz == 13
    back = Ratings.from_csr(csr)
    assert np.array_equal(back.to_dense(), toy.to_dense(), equal_nan=True)
    coo = sp.coo_matrix((np.array([1.0, 2.0]), (np.array([0, 0]), np.array([1, 1]))), shape=(2, 2))
    with pytest.raises(ValueError, match="duplicate"):
        Ratings.from_csr(coo)  # never silently summed
    with pytest.raises(TypeError, match="from_dense"):
        Ratings.from_csr(np.eye(2))


def test_torch_csr_matches_dense():
    toy = toy_ratings()
    t = ratings_csr(toy, dtype=torch.float64)
    assert t.layout == torch.sparse_csr
    assert np.array_equal(t.to_dense().numpy(), np.nan_to_num(toy.to_dense(), nan=0.0))


def test_counts_density_repr():
    toy = toy_ratings()
    assert list(toy.user_counts()) == [3, 2, 3, 2, 3]
    assert list(toy.item_counts()) == [4, 3, 1, 5]
    assert toy.density == pytest.approx(13 / 20)
    assert "5 users x 4 items, 13 ratings" in repr(toy)


def test_subset_keeps_index_space():
    toy = toy_ratings()
    part = toy.subset(toy.users == 0)
    assert part.shape == toy.shape and part.nnz == 3
    with pytest.raises(ValueError, match="repeats"):
        toy.subset(np.array([0, 0]))
    with pytest.raises(ValueError, match="selects no ratings"):
        toy.subset(np.zeros(13, dtype=bool))


def test_index_array_checks_range():
    assert list(index_array([0, 2], 3, "users")) == [0, 2]
    with pytest.raises(IndexError, match="user index 3 .position 1., outside 0..2"):
        index_array([0, 3], 3, "users")
    with pytest.raises(IndexError, match="outside"):
        index_array([-1], 3, "users")
    with pytest.raises(TypeError, match="integer"):
        index_array([0.5], 3, "users")


# ---------------------------------------------------------------- immutability -------
ARRAYS = ("users", "items", "values", "timestamps", "user_ids", "item_ids", "item_titles")


def _with_everything():
    return Ratings.from_arrays(
        [30, 10, 30], [5, 5, 9], [1.0, 2.0, 3.0], [3, 2, 1], item_titles={5: "five", 9: "nine"}
    )


@pytest.mark.parametrize("make", [
    _with_everything,
    lambda: _with_everything().subset(np.array([0, 2])),
    lambda: Ratings(np.array([0, 1]), np.array([1, 0]), np.array([4.0, 5.0])),
    toy_ratings,
])
def test_every_array_is_read_only(make):
    r = make()
    for name in ARRAYS:
        a = getattr(r, name)
        if a is None:
            continue
        assert not a.flags.writeable, name
        with pytest.raises(ValueError, match="read-only"):
            a[0] = a[0]
    with pytest.raises(ValueError, match="read-only"):
        r.values[0] = 9


def test_constructor_copies_the_callers_arrays():
    users, items, values = np.array([0, 1]), np.array([1, 0]), np.array([4.0, 5.0])
    ts, ids = np.array([10, 20]), np.array([7, 8])
    r = Ratings(users, items, values, timestamps=ts, user_ids=ids)
    for a in (users, items, values, ts, ids):
        assert a.flags.writeable  # never made read-only behind the caller's back
    users[0], values[0], ts[0], ids[0] = 1, 99.0, 0, 0  # ... and never shared
    assert r.users[0] == 0 and r.values[0] == 4.0 and r.timestamps[0] == 10
    assert r.user_ids[0] == 7


def test_no_unchecked_ratings_can_be_built():
    with pytest.raises(TypeError):
        Ratings(np.array([0, 0]), np.array([1, 1]), np.array([np.nan, 2.0]), _checked=True)
    r = toy_ratings()
    with pytest.raises(ValueError, match="must be finite"):
        dataclasses.replace(r, values=np.full(r.nnz, np.nan))
    with pytest.raises(ValueError, match="duplicate"):
        dataclasses.replace(r, users=np.zeros(r.nnz, dtype=int), items=np.zeros(r.nnz, dtype=int))
    renamed = dataclasses.replace(r, name="again")
    assert renamed.name == "again" and not renamed.values.flags.writeable
    assert "13 ratings" in repr(renamed)


@pytest.mark.parametrize(
    "clone", [copy.copy, copy.deepcopy, lambda r: pickle.loads(pickle.dumps(r))]
)
def test_copies_and_pickles_stay_checked_and_read_only(clone):
    r = _with_everything()
    c = clone(r)
    assert c.shape == r.shape and np.array_equal(c.values, r.values)
    assert list(c.item_titles) == list(r.item_titles) and c.user_index(30) == 1
    for name in ARRAYS:
        assert not getattr(c, name).flags.writeable, name


def test_from_arrays_and_as_ratings_leave_inputs_alone():
    users, items, values = np.array([3, 1]), np.array([2, 2]), np.array([1.0, 2.0])
    Ratings.from_arrays(users, items, values)
    r = as_ratings((np.array([0, 1]), np.array([0, 0]), values))
    assert values.flags.writeable and users.flags.writeable
    values[0] = 7.0
    assert r.values[0] == 1.0
