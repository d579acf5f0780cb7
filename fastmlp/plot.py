"""Plots of what training did (matplotlib, the ``plot`` extra: ``pip install fastmlp[plot]``).

matplotlib is imported when a plot is drawn, never by ``import fastmlp``.
"""

import math

import numpy as np

from .training import History

PANEL_COLUMNS = 3


def history(est_or_history, *, fig=None):
    """Draw a training history: one panel per quantity that was recorded.

    The panels, in order, each present only when its data exists: the training loss,
    the validation score (with early stopping), the learning rate (the loss and the rate
    on a log scale when they are positive and span more than 10x), the gradient norm per
    layer (log scale; the mean over the epoch's minibatches, with the global norm dashed),
    the fraction of dead units per hidden layer (units that never fired in the epoch, for
    the ReLU family) and the update/weight ratio per layer, ``||W_after - W_before|| /
    ||W_after||`` over the epoch (log scale). Diagnostics switched off, or an L-BFGS fit
    (its history holds the loss per iteration only), give fewer panels.

    Parameters
    ----------
    est_or_history : fitted MLPClassifier or MLPRegressor, or fastmlp.training.History
        An estimator's ``history_`` is drawn, or the History that ``Network.fit`` returns.
    fig : matplotlib.figure.Figure, default=None
        Figure to draw into (its previous content is cleared); None creates one with
        ``matplotlib.pyplot.figure``.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure; its axes are in ``fig.axes``, one per panel, titled as above.

    Raises
    ------
    TypeError
        When given neither an estimator with a ``history_`` nor a History.
    ValueError
        When the history holds no epoch.

    Examples
    --------
    >>> import fastmlp, fastmlp.plot
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = fastmlp.MLPClassifier((16,), max_iter=30, random_state=0).fit(X, y)
    >>> fig = fastmlp.plot.history(clf)  # doctest: +SKIP
    >>> fig.savefig("history.png")  # doctest: +SKIP
    """
    hist, name, unit = _resolve(est_or_history)
    if len(hist) == 0:
        raise ValueError("The history holds no epoch: there is nothing to plot.")
    panels = _panels(hist)
    if fig is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(
            figsize=(4.2 * min(len(panels), PANEL_COLUMNS), 3.2 * _rows(panels)),
            layout="constrained",
        )
    else:
        fig.clear()
    grid = fig.add_gridspec(_rows(panels), min(len(panels), PANEL_COLUMNS))
    for index, draw in enumerate(panels):
        ax = fig.add_subplot(grid[index // PANEL_COLUMNS, index % PANEL_COLUMNS])
        draw(ax)
        ax.set_xlabel(unit)
        ax.grid(True, alpha=0.3)
    if name:
        fig.suptitle(f"{name}: training history")
    return fig


def _resolve(obj):
    """(History, title, x-axis label) of an estimator or a History."""
    if isinstance(obj, History):
        return obj, None, "epoch"
    hist = getattr(obj, "history_", None)
    if isinstance(hist, History):
        unit = "iteration" if getattr(obj, "solver", None) == "lbfgs" else "epoch"
        return hist, type(obj).__name__, unit
    if hasattr(obj, "get_params"):
        from sklearn.exceptions import NotFittedError

        raise NotFittedError(
            f"This {type(obj).__name__} has no training history: fit it before plotting."
        )
    raise TypeError(
        "history() takes a fitted fastmlp estimator or a fastmlp.training.History, got "
        f"{type(obj).__name__}."
    )


def _rows(panels):
    return math.ceil(len(panels) / PANEL_COLUMNS)


def _panels(hist):
    """The drawing functions of the panels whose data exists, in display order."""
    panels = [_wide_range_panel(hist.loss, "Training loss", "loss")]
    if len(hist.validation_score) and not np.all(np.isnan(hist.validation_score)):
        panels.append(lambda ax: _curve(ax, hist.validation_score, "Validation score", "score"))
    if len(hist.learning_rate):
        panels.append(_wide_range_panel(hist.learning_rate, "Learning rate", "rate"))
    grads = hist.layer_grad_norms
    if grads.ndim == 2 and grads.size:
        panels.append(
            lambda ax: _per_layer(
                ax,
                grads,
                "Gradient norm per layer",
                _layer_names(grads),
                log=True,
                total=hist.grad_norm if len(hist.grad_norm) else None,
            )
        )
    dead = hist.dead_fraction
    if dead.ndim == 2 and dead.size and not np.all(np.isnan(dead)):
        names = [f"hidden {i + 1}" for i in range(dead.shape[1])]
        panels.append(
            lambda ax: _per_layer(
                ax, dead, "Dead units per layer", names, ylabel="fraction of units"
            )
        )
    ratios = hist.update_ratio
    if ratios.ndim == 2 and ratios.size:
        panels.append(
            lambda ax: _per_layer(
                ax, ratios, "Update/weight ratio per layer", _layer_names(ratios), log=True
            )
        )
    return panels


def _layer_names(table):
    """Weight layers: ``layer 1`` ... ``layer L-1`` (hidden), then ``output``."""
    return [f"layer {i + 1}" for i in range(table.shape[1] - 1)] + ["output"]


def _epochs(values):
    return np.arange(1, len(values) + 1)


def _curve(ax, values, title, ylabel):
    ax.plot(_epochs(values), values, marker="." if len(values) < 30 else None)
    ax.set_title(title)
    ax.set_ylabel(ylabel)


def _wide_range_panel(values, title, ylabel):
    """A curve on a log scale when its values are positive and span more than 10x."""

    def draw(ax):
        _curve(ax, values, title, ylabel)
        finite = values[np.isfinite(values)]
        if finite.size and finite.min() > 0 and finite.max() > 10 * finite.min():
            ax.set_yscale("log")

    return draw


def _per_layer(ax, table, title, names, *, log=False, total=None, ylabel=None):
    """One line per column of ``table`` (epochs x layers); columns all NaN are left out."""
    x = _epochs(table)
    for column, name in enumerate(names):
        if not np.all(np.isnan(table[:, column])):
            ax.plot(x, table[:, column], label=name)
    if total is not None:
        ax.plot(x, total, color="black", linestyle="--", linewidth=1, label="all")
    if log:
        ax.set_yscale("log")
    ax.set_title(title)
    if ylabel:
        ax.set_ylabel(ylabel)
    ax.legend(fontsize="small")
