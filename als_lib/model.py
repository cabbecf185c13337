r"""What every model of the library shares (the models layer).

- `Estimator`: scikit-learn's conventions. Hyperparameters are the arguments of
  ``__init__``, stored as given and checked in ``fit``; `~Estimator.get_params` and
  `~Estimator.set_params` are read off the signature, so ``sklearn.base.clone`` works;
  fitted attributes end in an underscore (``params_``, ``n_users_``, ``n_items_``,
  ``history_``); ``fit`` returns the model.
- `Recommender`: everything that needs only the fitted parameters
  (:math:`\mu`, biases, factors; a baseline is a model with k = 0 factors): `predict`,
  `rmse` and `score`, `recommend` (one user or many), `similar_items`, `similar_users`,
  ``user_factors`` / ``item_factors`` as numpy arrays, `save` / `load`.
- `FactorModel`: the factor models (gradient descent, ALS). They minimise the same
  objective, so they share the start of a fit and `fold_in` (a new user from their
  ratings, one exact ridge solve with the items fixed).
"""

from __future__ import annotations

import inspect
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from .data import Ratings, as_ratings, index_array
from .linalg import spd_solve
from .metrics import rmse
from .objective import (
    FactorParams,
    RatingTensors,
    augment,
    init_params,
    predict,
    predict_rows,
)

__all__ = [
    "Estimator",
    "Recommender",
    "FactorModel",
    "FoldIn",
    "DivergenceError",
    "NotFittedError",
    "check_positive_int",
    "check_number",
    "check_choice",
    "check_float_dtype",
]


class DivergenceError(FloatingPointError):
    """The objective or the factors became NaN or infinite during a fit."""


class NotFittedError(RuntimeError):
    """A method that needs a fitted model was called before ``fit``."""


# ------------------------------------------------------------------ checks
def check_threads(value) -> None:
    """ValueError unless ``value`` (a model's ``threads``) is None or a positive integer."""
    if value is not None and not (_is_int(value) and value >= 1):
        raise ValueError(f"threads must be None (decide per fit) or an integer >= 1; "
                         f"got {value!r}.")


def check_positive_int(value, name: str) -> int:
    """``value`` as an int, if it is a positive integer.

    Parameters
    ----------
    value : object
        The value to check.
    name : str
        Its name, for the message.

    Returns
    -------
    int
        ``value``.

    Raises
    ------
    ValueError
        Naming ``name``, unless ``value`` is an integer >= 1 (not a bool).
    """
    if (not isinstance(value, (int, np.integer)) or isinstance(value, bool)
            or value < 1):
        raise ValueError(f"{name} must be a positive integer; got {value!r}.")
    return int(value)


def check_number(value, name: str, *, low: float = 0.0,
                 strict: bool = False) -> float:
    """``value`` as a float, if it is a finite number ``>= low`` (``> low`` with ``strict``).

    Parameters
    ----------
    value : object
        The value to check.
    name : str
        Its name, for the message.
    low : float
        The lower bound.
    strict : bool
        Require ``value > low`` rather than ``value >= low``.

    Returns
    -------
    float
        ``value``.

    Raises
    ------
    ValueError
        Naming ``name``, unless ``value`` is a finite number (not a bool) within the bound.
    """
    ok = (isinstance(value, (int, float, np.integer, np.floating))
          and not isinstance(value, bool) and math.isfinite(value)
          and (value > low if strict else value >= low))
    if not ok:
        bound = f"> {low:g}" if strict else f">= {low:g}"
        raise ValueError(f"{name} must be a finite number {bound}; "
                         f"got {value!r}.")
    return float(value)


def check_choice(value, name: str, choices) -> None:
    """Check that ``value`` is one of ``choices``.

    Parameters
    ----------
    value : object
        The value to check.
    name : str
        Its name, for the message.
    choices : sequence
        The allowed values.

    Raises
    ------
    ValueError
        Naming ``name`` and the choices, unless ``value`` is one of ``choices``.
    """
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}; "
                         f"got {value!r}.")


def check_float_dtype(dtype) -> torch.dtype:
    """``dtype``, if it is torch.float32 or torch.float64.

    Parameters
    ----------
    dtype : torch.dtype
        The dtype to check.

    Returns
    -------
    torch.dtype
        ``dtype``.

    Raises
    ------
    ValueError
        For any other dtype.
    """
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(
            f"dtype must be torch.float32 or torch.float64; got {dtype}.")
    return dtype


def check_device(device) -> torch.device:
    """``device`` as a torch.device; ValueError if torch cannot use it."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"device {device!r} is not a torch device ({e}); "
                         "use 'cpu' or 'cuda'.") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but torch sees no CUDA GPU; "
                         "use device='cpu'.")
    return dev


def check_flags_seed_device(model, flags) -> None:
    """ValueError unless each of ``flags`` is True or False, ``seed`` an
    integer, and ``dtype`` and ``device`` usable (``model``'s attributes)."""
    for name in flags:
        if not isinstance(getattr(model, name), (bool, np.bool_)):
            raise ValueError(f"{name} must be True or False; "
                             f"got {getattr(model, name)!r}.")
    if not _is_int(model.seed):
        raise ValueError(f"seed must be an integer; got {model.seed!r}.")
    check_float_dtype(model.dtype)
    check_device(model.device)


def _sync(device: torch.device) -> None:
    """Wait for queued GPU work, so wall-clock timings measure the
    computation itself."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _is_int(value) -> bool:
    return (isinstance(value, (int, np.integer))
            and not isinstance(value, bool))


# ------------------------------------------------------------------ estimator
class Estimator:
    """Hyperparameters read off ``__init__`` (scikit-learn's convention).

    A subclass stores each ``__init__`` argument unchanged under its own name
    and checks them in `_validate_params`, which its ``fit`` calls.
    """

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values()
                if p.name != "self"
                and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]

    def get_params(self, deep: bool = True) -> dict:
        """The hyperparameters, as given to ``__init__`` or `set_params`.

        Parameters
        ----------
        deep : bool
            Accepted for scikit-learn compatibility (no model of the
            library contains another estimator).

        Returns
        -------
        dict
            ``{name: value}`` for every argument of ``__init__``.
        """
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params) -> "Estimator":
        """Set hyperparameters by name; they are checked at the next ``fit``.

        Parameters
        ----------
        **params : object
            ``name=value`` for arguments of ``__init__``.

        Returns
        -------
        Estimator
            The model itself.

        Raises
        ------
        ValueError
            If a name is not an argument of ``__init__``.
        """
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(
                    f"{name!r} is not a parameter of {type(self).__name__}; "
                    f"valid parameters: {', '.join(valid)}.")
            setattr(self, name, value)
        return self

    def _validate_params(self) -> None:
        """Raise ValueError for a hyperparameter out of range."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


@dataclass
class FoldIn:
    """A user who was not in the training data, folded in from a few ratings.

    Attributes
    ----------
    factors : numpy.ndarray
        The user's factor vector (length k).
    bias : float
        The user's bias (0 for a model without biases).
    items : numpy.ndarray
        The items the user rated (left out of their recommendations).
    """

    factors: np.ndarray
    bias: float
    items: np.ndarray


# ------------------------------------------------------------------ recommender
class Recommender(Estimator):
    r"""A fitted model of ratings :math:`\hat r_{ui} = \mu + b_u + b_i +
    \mathbf{u}_u^\top\mathbf{v}_i`, and what can be asked of it.

    A subclass's ``fit`` calls `_set_fitted`. Fitted attributes: ``params_``
    (a `~als_lib.objective.FactorParams` of torch tensors), ``n_users_``,
    ``n_items_`` and ``history_`` (a dict of per-iteration lists; empty for
    models fitted in closed form).
    """

    params_: FactorParams | None = None
    history_: dict

    # ----- fitted state
    def _set_fitted(self, ratings: Ratings, params: FactorParams) -> None:
        self.n_users_, self.n_items_ = ratings.shape
        self._seen = ratings.to_csr()
        self._seen.sort_indices()
        self.params_ = params

    def _check_inputs(self, ratings, eval_set):
        """Check the hyperparameters, and the training and evaluation data
        (same shape); returns them as `Ratings` (eval None if not given)."""
        self._validate_params()
        r = as_ratings(ratings)
        ev = None if eval_set is None else as_ratings(eval_set, "eval_set")
        if ev is not None and ev.shape != r.shape:
            raise ValueError(
                f"eval_set has shape {ev.shape} but ratings has {r.shape}; "
                "use a split of the same data.")
        return r, ev

    def _check_fitted(self) -> None:
        if getattr(self, "params_", None) is None:
            raise NotFittedError(
                f"{type(self).__name__} is not fitted yet; call "
                "fit(ratings) first.")

    @property
    def user_factors(self) -> np.ndarray:
        """numpy.ndarray: The user factors :math:`U` (n_users x k), a numpy copy."""
        self._check_fitted()
        return self.params_.U.detach().cpu().numpy().copy()

    @property
    def item_factors(self) -> np.ndarray:
        """numpy.ndarray: The item factors :math:`V` (n_items x k), a numpy copy."""
        self._check_fitted()
        return self.params_.V.detach().cpu().numpy().copy()

    @property
    def user_bias(self) -> np.ndarray | None:
        """numpy.ndarray or None: The user biases :math:`b_u`, or None without biases."""
        self._check_fitted()
        b = self.params_.user_bias
        return None if b is None else b.detach().cpu().numpy().copy()

    @property
    def item_bias(self) -> np.ndarray | None:
        """numpy.ndarray or None: The item biases :math:`b_i`, or None without biases."""
        self._check_fitted()
        b = self.params_.item_bias
        return None if b is None else b.detach().cpu().numpy().copy()

    @property
    def mu_(self) -> float:
        r"""float: The global mean :math:`\mu` of the training ratings (0 for a
        model fitted without centering)."""
        self._check_fitted()
        return self.params_.mu

    # ----- predictions
    def predict(self, users, items) -> np.ndarray:
        r"""Predicted ratings :math:`\hat r_{ui}` for pairs of indices.

        Parameters
        ----------
        users, items : array_like of int
            Equal-length user and item indices of the fitted shape.

        Returns
        -------
        numpy.ndarray
            One float64 prediction per pair. A user or item without training
            ratings has zero factors and zero bias, so its prediction falls
            back to the mean (plus the other side's bias).

        Raises
        ------
        NotFittedError
            Before ``fit``.
        IndexError
            For an index outside the fitted shape.
        ValueError
            If ``users`` and ``items`` differ in shape.
        """
        u, i = self._pair_indices(users, items)
        dev = self.params_.U.device
        with torch.no_grad():
            # torch.tensor copies (index arrays may be read-only)
            out = predict(self.params_, torch.tensor(u, device=dev),
                          torch.tensor(i, device=dev))
        return out.double().cpu().numpy()

    def _pair_indices(self, users, items):
        """Checked index arrays of (user, item) pairs of the fitted shape."""
        self._check_fitted()
        u = index_array(users, self.n_users_, "users", "user")
        i = index_array(items, self.n_items_, "items", "item")
        if u.shape != i.shape:
            raise ValueError("users and items must have the same shape; got "
                             f"{u.shape} and {i.shape}.")
        return u, i

    def rmse(self, ratings) -> float:
        """Root mean squared error of the predictions on ``ratings``.

        Parameters
        ----------
        ratings : Ratings, scipy.sparse matrix or (users, items, values)
            Ratings in the fitted index space (e.g. a test split).

        Returns
        -------
        float
            The RMSE (lower is better).
        """
        r = as_ratings(ratings)
        return rmse(r.values, self.predict(r.users, r.items))

    def score(self, ratings) -> float:
        """Minus the RMSE on ``ratings``: higher is better, as scikit-learn's
        model selection expects. Use `rmse` for the RMSE itself.

        Parameters
        ----------
        ratings : Ratings, scipy.sparse matrix or (users, items, values)
            Held-out ratings, in the fitted index space.

        Returns
        -------
        float
            ``-self.rmse(ratings)``.
        """
        return -self.rmse(ratings)

    # ----- top-n lists
    def recommend(self, user, n: int = 10, *, exclude_seen: bool = True,
                  filter_items=None, items=None):
        """The ``n`` items with the highest predicted rating.

        Parameters
        ----------
        user : int, array_like of int, or FoldIn
            One user index, several (a batch), or a user folded in with
            `FactorModel.fold_in`.
        n : int
            How many items to return per user.
        exclude_seen : bool
            Leave out the items the user rated in the training data.
        filter_items : array_like of int, optional
            Items never to recommend.
        items : array_like of int, optional
            Recommend only among these items.

        Returns
        -------
        (items, scores) : tuple of numpy.ndarray
            For one user: 1-D arrays, best first. For an array of users: 2-D
            arrays with one row per user; a row with fewer candidates than
            the others is padded with item -1 and score -inf. Ties are broken
            by the lower item index, also at the cut-off.
        """
        self._check_fitted()
        n = check_positive_int(n, "n")
        if isinstance(user, FoldIn):
            X = torch.as_tensor(np.asarray(user.factors, np.float64))[None]
            bias = torch.tensor([float(user.bias)], dtype=torch.float64)
            scores = predict_rows(self.params_, X, bias)
            seen = [user.items] if exclude_seen else [None]
            return self._top_rows(scores, n, seen, filter_items, items,
                                  single=True)
        single = np.ndim(user) == 0
        u = index_array(user, self.n_users_, "user", "user")
        p = self.params_
        X = p.U[torch.tensor(u, device=p.U.device)]
        bias = (None if p.user_bias is None
                else p.user_bias[torch.tensor(u, device=p.U.device)])
        scores = predict_rows(p, X, bias)
        seen = [self._seen_items(k) if exclude_seen else None for k in u]
        return self._top_rows(scores, n, seen, filter_items, items, single)

    def similar_items(self, item, n: int = 10, *, include_self: bool = False,
                      filter_items=None, items=None):
        r"""The items whose factor vectors are closest in cosine similarity
        :math:`\mathbf{v}_i^\top\mathbf{v}_j /
        (\lVert\mathbf{v}_i\rVert\lVert\mathbf{v}_j\rVert)`.

        Parameters
        ----------
        item : int or array_like of int
            One item index or several.
        n : int
            How many items to return per query.
        include_self : bool
            If True the query item comes first (similarity 1) and counts
            towards ``n``, as in implicit; if False it is left out.
        filter_items : array_like of int, optional
            Items never to return.
        items : array_like of int, optional
            Return only these items.

        Returns
        -------
        (items, similarities) : tuple of numpy.ndarray
            1-D for one query, 2-D (one row per query) for several. Items
            without training ratings (zero factors) are never returned.

        Raises
        ------
        ValueError
            For a query item without training ratings, or a model without
            factors (a baseline).
        """
        self._check_fitted()
        return self._similar(self.params_.V, item, n, include_self,
                             filter_items, items, "item")

    def similar_users(self, user, n: int = 10, *, include_self: bool = False,
                      filter_users=None, users=None):
        """The users whose factor vectors are closest in cosine similarity;
        the counterpart of `similar_items`.

        Parameters
        ----------
        user : int or array_like of int
            One user index or several.
        n : int
            How many users to return per query.
        include_self : bool
            If True the query user comes first (similarity 1) and counts
            towards ``n``; if False it is left out.
        filter_users : array_like of int, optional
            Users never to return.
        users : array_like of int, optional
            Return only these users.

        Returns
        -------
        (users, similarities) : tuple of numpy.ndarray
            1-D for one query, 2-D (one row per query) for several. Users
            without training ratings (zero factors) are never returned.

        Raises
        ------
        NotFittedError
            Before ``fit``.
        ValueError
            For a query user without training ratings, or a model without
            factors (a baseline).
        """
        self._check_fitted()
        return self._similar(self.params_.U, user, n, include_self,
                             filter_users, users, "user")

    def _similar(self, F, query, n, include_self, filter_out, only, kind):
        n = check_positive_int(n, "n")
        count = F.shape[0]
        if F.shape[1] == 0:
            raise ValueError(
                f"{type(self).__name__} has no factor vectors (it predicts "
                f"from biases only), so it has no notion of similar {kind}s.")
        single = np.ndim(query) == 0
        q = index_array(query, count, kind, kind)
        F = F.double()
        norms = F.norm(dim=1)
        empty = norms[torch.tensor(q, device=F.device)] == 0
        if bool(empty.any()):
            j = int(q[int(torch.nonzero(empty)[0])])
            raise ValueError(
                f"{kind} {j} has no training ratings, so its factors are "
                "zero and it has no neighbours.")
        Fq = F[torch.tensor(q, device=F.device)]
        sims = (Fq @ F.T) / (norms[None, :] * norms[q, None]).clamp(min=1e-300)
        no_factors = np.flatnonzero(norms.cpu().numpy() == 0)
        exclude = [np.append(no_factors, j) for j in q]
        k = n - 1 if include_self else n
        if k == 0:
            top = np.empty((len(q), 0), np.int64), np.empty((len(q), 0))
        else:
            top = self._top_rows(sims, k, exclude, filter_out, only, False,
                                 size=count, kind=kind)
        if include_self:
            top = (np.column_stack([q, top[0]]),
                   np.column_stack([np.ones(len(q)), top[1]]))
        return (top[0][0], top[1][0]) if single else top

    def _seen_items(self, u: int) -> np.ndarray:
        s = self._seen
        return s.indices[s.indptr[u]:s.indptr[u + 1]]

    def _top_rows(self, scores: torch.Tensor, n: int, exclude, filter_out,
                  only, single: bool, size: int | None = None,
                  kind: str = "item"):
        """Top ``n`` of each row of ``scores`` after removing ``exclude[row]``
        and ``filter_out`` and keeping only ``only``; see `_top`."""
        size = self.n_items_ if size is None else size
        allowed = np.ones(size, dtype=bool)
        if only is not None:
            allowed[:] = False
            allowed[index_array(only, size, f"{kind}s", kind)] = True
        if filter_out is not None:
            allowed[index_array(filter_out, size, f"filter_{kind}s",
                                kind)] = False
        S = scores.double().cpu().numpy()
        rows = [_top(np.where(allowed, row, -np.inf), n, ex)
                for row, ex in zip(S, exclude)]
        if single:
            return rows[0]
        width = max((len(r[0]) for r in rows), default=0)
        ids = np.full((len(rows), width), -1, dtype=np.int64)
        vals = np.full((len(rows), width), -np.inf)
        for k, (i, v) in enumerate(rows):
            ids[k, :len(i)], vals[k, :len(v)] = i, v
        return ids, vals

    # ----- persistence
    FORMAT = "als_lib.model/2"

    def save(self, path: str | Path) -> None:
        """Save the fitted model to ``.npz`` (numpy only, no pickle): the
        parameters bit for bit, the hyperparameters and ``history_``.

        Parameters
        ----------
        path : str or Path
            The file; numpy adds ``.npz`` if the name lacks it.

        Raises
        ------
        NotFittedError
            Before ``fit``.
        """
        self._check_fitted()
        p = self.params_
        params = {k: v for k, v in self.get_params().items()
                  if k not in ("device", "dtype")}
        arrays = {
            "format": np.array(self.FORMAT),
            "class": np.array(type(self).__name__),
            "params": np.array(json.dumps(params)),
            "history": np.array(json.dumps(getattr(self, "history_", {}))),
            "dtype": np.array(str(p.U.dtype).replace("torch.", "")),
            "mu": np.array(p.mu, dtype=np.float64),
            "U": p.U.cpu().numpy(), "V": p.V.cpu().numpy(),
            "seen_indptr": self._seen.indptr,
            "seen_indices": self._seen.indices,
            "seen_values": self._seen.data.astype(np.float64),
        }
        if p.user_bias is not None:
            arrays["user_bias"] = p.user_bias.cpu().numpy()
            arrays["item_bias"] = p.item_bias.cpu().numpy()
        arrays.update(self._extra_arrays())
        np.savez(Path(path), **arrays)

    def _extra_arrays(self) -> dict:
        """Further fitted arrays a subclass saves (read back by
        `_load_extra`)."""
        return {}

    def _load_extra(self, f, device) -> None:
        """Read what `_extra_arrays` saved from the open ``.npz`` ``f``."""

    @classmethod
    def load(cls, path: str | Path, device="cpu") -> "Recommender":
        """Load a model written by `save`.

        Parameters
        ----------
        path : str or Path
            The ``.npz`` file.
        device : str or torch.device
            Where to put the parameters (models with a ``device``).

        Returns
        -------
        Recommender
            A fitted model of the class that was saved.

        Raises
        ------
        ValueError
            If the file is not a model saved by this library, or holds a
            model of another class than ``cls``.
        """
        with np.load(Path(path), allow_pickle=False) as f:
            if "format" not in f or str(f["format"]) != cls.FORMAT:
                raise ValueError(
                    f"{path} is not a model file written by save() of "
                    "als_lib.")
            name = str(f["class"])
            klass = _model_classes().get(name)
            if klass is None or not issubclass(klass, cls):
                raise ValueError(f"{path} holds a {name}, not a "
                                 f"{cls.__name__}; load it with {name}.load.")
            params = json.loads(str(f["params"]))
            params = {k: tuple(v) if isinstance(v, list) else v
                      for k, v in params.items()}
            dtype = getattr(torch, str(f["dtype"]))
            names = klass._param_names()
            if "dtype" in names:
                params["dtype"] = dtype
            if "device" in names:
                params["device"] = device
            else:
                device = "cpu"
            model = klass(**params)
            model.history_ = json.loads(str(f["history"]))

            def tensor(key):
                if key not in f:
                    return None
                return torch.from_numpy(f[key]).to(device)

            U, V = tensor("U"), tensor("V")
            values = (f["seen_values"] if "seen_values" in f
                      else np.ones(len(f["seen_indices"])))
            seen = sp.csr_matrix((values, f["seen_indices"],
                                  f["seen_indptr"]),
                                 shape=(U.shape[0], V.shape[0]))
            model.params_ = FactorParams(U, V, float(f["mu"]),
                                         tensor("user_bias"),
                                         tensor("item_bias"))
            model.n_users_, model.n_items_ = seen.shape
            model._seen = seen
            model._load_extra(f, device)
        return model


def _model_classes() -> dict[str, type]:
    """Every subclass of Recommender by name (for `Recommender.load`)."""
    found, todo = {}, [Recommender]
    while todo:
        c = todo.pop()
        found[c.__name__] = c
        todo.extend(c.__subclasses__())
    return found


def _top(scores: np.ndarray, n: int, exclude=None):
    """Indices and values of the ``n`` largest finite ``scores``, best first,
    after removing ``exclude``.

    Ties are broken deterministically: higher score first, then the lower
    index, also at the cut-off (of several items tied for the last place,
    the lowest indices are kept).
    """
    scores = scores.copy()
    if exclude is not None:
        scores[exclude] = -np.inf
    n = min(int(n), int(np.isfinite(scores).sum()))
    if n == 0:
        return np.array([], dtype=np.int64), np.array([])
    # every item scoring at least the n-th best (ties at the cut-off
    # included), in index order
    nth_best = -np.partition(-scores, n - 1)[n - 1]
    contenders = np.flatnonzero(scores >= nth_best)
    top = contenders[np.lexsort((contenders, -scores[contenders]))[:n]]
    return top, scores[top]


# ------------------------------------------------------------------ factor models
class FactorModel(Recommender):
    """The factorisation models: the start of a fit, and fold-in.

    Subclasses have the hyperparameters ``factors``, ``reg``,
    ``weighted_reg``, ``biases``, ``init_std``, ``seed``, ``device`` and
    ``dtype``.
    """

    # hyperparameters that must be True or False (subclasses may differ)
    _BOOL_PARAMS = ("weighted_reg", "biases")

    def _validate_params(self) -> None:
        check_positive_int(self.factors, "factors")
        check_number(self.reg, "reg")
        check_number(self.init_std, "init_std")
        check_flags_seed_device(self, self._BOOL_PARAMS)

    def _start_fit(self, ratings, eval_set):
        """Check the hyperparameters and the inputs, remember the shape and
        the seen items, convert to tensors and draw the initial factors.

        Returns
        -------
        (Ratings, RatingTensors, RatingTensors or None)
            The training ratings, as tensors, and the evaluation tensors.
        """
        r, ev = self._check_inputs(ratings, eval_set)
        dev, dt = torch.device(self.device), self.dtype
        data = RatingTensors.from_ratings(r, dt, dev)
        eval_data = (None if ev is None
                     else RatingTensors.from_ratings(ev, dt, dev))
        params = init_params(
            r.n_users, r.n_items, int(self.factors), self._global_mean(r),
            bool(self.biases), float(self.init_std), int(self.seed), dt, dev,
            r.user_counts(), r.item_counts())
        self._set_fitted(r, params)
        self.history_ = {}
        return r, data, eval_data

    def _global_mean(self, r) -> float:
        r""":math:`\mu`, the mean training rating (subclasses may fit
        without it)."""
        return float(r.values.mean())

    @classmethod
    def from_factors(cls, user_factors, item_factors, train, **params):
        r"""A fitted model from factors computed elsewhere (by `implicit`,
        by Spark), so that they are scored by the same code:
        :math:`\hat r_{ui} = \mathbf{u}_u^\top\mathbf{v}_i`, no mean and
        no biases.

        Parameters
        ----------
        user_factors, item_factors : array_like
            (n_users x k) and (n_items x k).
        train : Ratings, scipy.sparse matrix or (users, items, values)
            The data they were fitted on (left out of recommendations;
            used by `fold_in`, and by `ImplicitALS`'s `explain` and
            `loss`).
        **params : object
            Hyperparameters (as for ``__init__``). A model with biases or
            a mean (`ExplicitALS` needs ``biases=False, center=False``) is
            refused.

        Returns
        -------
        FactorModel
            The model (of the class this is called on), fitted.

        Raises
        ------
        ValueError
            If the factors' shapes do not fit ``train``, a hyperparameter is
            invalid, or the model would have a mean or biases.
        """
        model = cls(**params)
        model._validate_params()
        r = as_ratings(train, "train")
        model._check_factors_train(r)
        X = torch.as_tensor(np.asarray(user_factors), dtype=model.dtype)
        Y = torch.as_tensor(np.asarray(item_factors), dtype=model.dtype)
        if X.shape[0] != r.n_users or Y.shape[0] != r.n_items or \
                X.shape[1] != Y.shape[1] or X.ndim != 2:
            raise ValueError(
                f"factors of shapes {tuple(X.shape)} and {tuple(Y.shape)} "
                f"do not fit train of shape {r.shape}.")
        dev = torch.device(model.device)
        model._set_fitted(r, FactorParams(X.to(dev), Y.to(dev), 0.0))
        model.history_ = {}
        return model

    def _check_factors_train(self, r) -> None:
        """`from_factors` makes a model without a mean or biases: refuse
        hyperparameters that say otherwise."""
        if getattr(self, "biases", False) or self._global_mean(r) != 0.0:
            raise ValueError(
                f"from_factors makes a model r ~ u.v without a mean or "
                f"biases; give {type(self).__name__} biases=False"
                + (", center=False." if hasattr(self, "center") else "."))

    def fold_in(self, items, ratings) -> FoldIn:
        r"""Factors and bias for a new user from a few ratings, without
        refitting: the exact minimiser of the objective over that user's
        row with the items fixed (one ridge regression,
        :math:`(\tilde Y^\top\tilde Y + \lambda w I)\tilde{\mathbf{x}} =
        \tilde Y^\top \tilde{\mathbf{r}}`, in float64).

        Parameters
        ----------
        items : array_like of int
            The items the user rated (each once).
        ratings : array_like of float
            Their ratings.

        Returns
        -------
        FoldIn
            Pass it to `recommend`.

        Raises
        ------
        ValueError
            For empty, unequal, repeated or non-finite input.
        """
        i, r = self._fold_in_input(items, ratings, "ratings")
        p = self.params_
        ti = torch.tensor(i, device=p.V.device)
        bi = None if p.item_bias is None else p.item_bias[ti].double().cpu()
        Y = augment(p.V[ti].double().cpu(), bi, ones_last=True)  # [v_i, 1]
        target = torch.as_tensor(r) - p.mu
        if bi is not None:
            target = target - bi
        w = len(i) if self.weighted_reg else 1.0
        eye = torch.eye(Y.shape[1], dtype=torch.float64)
        x = spd_solve(Y.T @ Y + self.reg * w * eye, Y.T @ target).numpy()
        if p.item_bias is None:
            return FoldIn(x, 0.0, i)
        return FoldIn(x[:-1], float(x[-1]), i)

    def _fold_in_input(self, items, values, what: str):
        """A new user's items and values as arrays, checked: non-empty,
        equal lengths, no item twice, finite values."""
        self._check_fitted()
        i = index_array(items, self.n_items_, "items", "item")
        v = np.asarray(values, dtype=np.float64)
        if v.shape != i.shape or len(i) == 0:
            raise ValueError(
                f"items and {what} must be non-empty and the same length; "
                f"got {len(i)} and {v.size}.")
        if len(np.unique(i)) != len(i):
            raise ValueError("items holds an item twice; give each item "
                             "once.")
        if not np.isfinite(v).all():
            raise ValueError(f"{what} must be finite.")
        return i, v

    def recommend_new(self, rated_items, ratings, n: int = 10, *,
                      exclude_seen: bool = True, filter_items=None,
                      items=None):
        """Recommendations for a new user from their ratings, in one call:
        `fold_in` then `recommend`.

        Parameters
        ----------
        rated_items, ratings : array_like
            What the new user rated, and how.
        n : int
            How many items to return.
        exclude_seen : bool
            Leave out ``rated_items``.
        filter_items : array_like of int, optional
            Items never to recommend.
        items : array_like of int, optional
            Recommend only among these items.

        Returns
        -------
        (items, scores) : tuple of numpy.ndarray
            1-D, best first.
        """
        return self.recommend(self.fold_in(rated_items, ratings), n,
                              exclude_seen=exclude_seen,
                              filter_items=filter_items, items=items)
