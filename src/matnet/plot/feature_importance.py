"""Which inputs matter, as pictures: importance bars and Lek's profiles (the pictures
of NeuralNetTools' ``garson``, ``olden`` and ``lekprofile``).

The numbers come from :func:`matnet.analysis.importance` and
:func:`matnet.analysis.profile`; see there for the methods and their units.  (The
module is not called ``importance``: :mod:`matnet.plot` loads its pictures lazily by
name, and a submodule named like one of its functions would replace that function
on the package once imported.)
"""
from __future__ import annotations

import numpy as np

from ..backend import on_host
from ..analysis.importance import Profile, importance as _importance, profile as _profile
from ..analysis.names import output_index
from ..analysis.table import Table
from ._mpl import NEGATIVE, POSITIVE, axes_and_figure, matplotlib

__all__ = ["importance", "profile"]

_AXIS = {"garson": "relative importance (Garson)", "olden": "connection weight importance (Olden)",
         "sensitivity": "mean |dy/dx| (sensitivity)", "permutation": "loss increase when shuffled (permutation)"}


@on_host
def importance(net, method="olden", X=None, T=None, ax=None, output=None, sort=False, title=None, **options):
    """Horizontal bars of the importance of every input feature.

    Parameters
    ----------
    net : Network or Table
        A network (its importance is computed with ``method``, ``X``, ``T``,
        ``output`` and ``options``), or a table :func:`matnet.analysis.importance`
        returned.
    method : {"garson", "olden", "sensitivity", "permutation"}
    X, T : arrays or dicts, optional
        Data and targets, for the methods that need them.
    ax : matplotlib Axes, optional
    output : int, optional
        The output neuron (see :func:`matnet.analysis.importance`).
    sort : bool
        Largest ``|importance|`` on top instead of the features' order.
    title : str, optional
        Default: the table's title.
    **options
        ``loss``, ``n_repeats``, ``seed`` of the permutation importance.

    Returns
    -------
    matplotlib.figure.Figure
        Bars red where positive, blue where negative (Olden's signed weights); the
        permutation importance has error bars of one standard deviation over the
        repeats.
    """
    if isinstance(net, Table):
        table, method = net, _method_of(net)
    else:
        table = _importance(net, method, X=X, T=T, output=output, **options)
    labels = [str(v) for v in table["feature"]]
    values = np.asarray(table["importance"], np.float64)
    std = np.asarray(table["std"], np.float64) if "std" in table.columns else None
    order = np.argsort(-np.abs(np.nan_to_num(values)), kind="stable") if sort else np.arange(len(values))
    fig, ax = axes_and_figure(ax, (6.0, 1.2 + 0.3 * len(values)))
    colours = [POSITIVE if v >= 0 else NEGATIVE for v in values[order]]
    ax.barh(np.arange(len(order)), values[order], color=colours, xerr=None if std is None else std[order],
            error_kw=dict(ecolor="0.25", capsize=3, linewidth=1.0), gid="bars")
    ax.set_yticks(np.arange(len(order)), [labels[k] for k in order], fontsize=8)
    ax.invert_yaxis()                                  # the first feature on top
    ax.axvline(0.0, color="0.3", linewidth=0.8)
    ax.set_xlabel(_AXIS.get(method, "importance"))
    ax.grid(True, axis="x", alpha=0.3)
    ax.set_title(title if title is not None else table.title, fontsize=10)
    return fig


def _method_of(table):
    """The method named by a table's title (its first word), if any."""
    words = table.title.split()
    return words[0] if words else ""


@on_host
def profile(net, X=None, feature=0, n=100, groups=6, output=0, ax=None, title=None, cmap="viridis"):
    """Lek's profile: an output against one feature, one line per quantile group.

    Parameters
    ----------
    net : Network or Profile
        A network (the profile is computed from ``X``, ``feature``, ``n``,
        ``groups``), or a :class:`~matnet.analysis.importance.Profile`.
    X : array or dict
        Data in data units (with a network).
    feature : int or str
        The varied feature (index or label).
    n : int
        Grid points.
    groups : int or sequence of float
        The quantiles the other features are held at (see
        :func:`matnet.analysis.profile`).
    output : int
        The output neuron drawn (output layers side by side).
    ax : matplotlib Axes, optional
    title : str, optional
    cmap : str
        Sequential colour map for the groups, low quantile to high.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if isinstance(net, Profile):
        result = net
    else:
        if X is None:
            raise ValueError("profile(net, X, feature) needs the data X (the feature's range and the quantiles)")
        result = _profile(net, X, feature, n=n, groups=groups)
    output = output_index(output, result.outputs.shape[2])
    fig, ax = axes_and_figure(ax, (6.0, 4.2))
    colours = matplotlib.colormaps[cmap](np.linspace(0.0, 0.9, len(result.quantiles)))
    for k, (q, colour) in enumerate(zip(result.quantiles, colours)):
        ax.plot(result.values, result.outputs[k, :, output], color=colour, linewidth=1.5,
                label=f"{q:.2g}", gid=f"group:{k}")
    ax.set_xlabel(result.feature)
    ax.set_ylabel(f"output {output}")
    ax.legend(title="others at quantile", fontsize=8, title_fontsize=8)
    ax.grid(True, alpha=0.3)
    ax.set_title(title if title is not None else f"Lek's profile of {result.feature}", fontsize=10)
    return fig
