"""One declaration per view, iterated by the app's tabs, the command line, the report and the
tests: its name, endpoints, subcommand, table columns by name (with their share of the page's
width), figure title and place in the report.

A view is a module in ``e5ui.views`` (its function and result object), a tab module in
``e5ui.ui`` (``build(app, report_state, theme)``, returning the view's ``Wiring``), a command
module in ``e5ui.cli`` (``HELP``, ``add_arguments(parser)``, ``run(args, encoder)``) and one
``View`` here. Nothing that lists views needs touching: ``ui.build_demo`` builds a tab per view,
``python -m e5ui`` adds a subcommand per view and the report orders its sections by ``views()``.

The tab and the command are named by dotted paths (``"e5ui.ui.map:build"``) and imported only
when used, so this module imports neither gradio nor the views: the command line's ``--help``
stays light, and only ``ui/`` imports gradio (tests/unit/test_layers.py). A test may pass the
objects themselves instead.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class Column:
    """A table column: its name in the header (what the CLI reads a row by) and its share of
    the table's width on the page, relative to the other columns of its table."""

    name: str
    width: float = 1.0


@dataclass(frozen=True)
class Endpoint:
    """An API endpoint (``/name``) and the older names it still answers to (a view's own
    endpoint only: the app wires them to the wiring its tab returns)."""

    name: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class View:
    """One view's declaration.

    Attributes:
        name: the view's name: its tab's id, its report section's key, its modules' names
            and, unless said otherwise, its endpoint and subcommand.
        tab: ``build(app, report_state, theme) -> Wiring`` or its ``"module:function"`` path.
        command: the subcommand's module (``HELP``, ``add_arguments``, ``run``) or its dotted
            path; None for a view the command line does not offer.
        endpoints: the API endpoints, the view's own first; the view's interactions and
            comparisons (``/similarity_compare``, ``/pair_score``) hang off the same entry.
            Default: one endpoint named after the view.
        subcommand: the subcommand's name (default: the view's name).
        subcommand_aliases: other names the subcommand answers to (old or US spellings).
        tables: table name -> its columns, the view's main table first; a view's result
            writes exactly these headers (tests/unit/test_registry.py checks).
        figure_title: the title of the figure's standalone HTML page, for the app and the CLI.
        order: the view's place among the tabs and in the report (set by ``register``).
    """

    name: str
    tab: str | Callable
    command: str | Any | None = None
    endpoints: tuple[Endpoint, ...] = ()
    subcommand: str | None = None
    subcommand_aliases: tuple[str, ...] = ()
    tables: Mapping[str, tuple[Column, ...]] = field(default_factory=dict)
    figure_title: str | None = None
    order: int = 0

    def __post_init__(self) -> None:
        if not self.endpoints:
            object.__setattr__(self, "endpoints", (Endpoint(self.name),))
        if self.command is not None and self.subcommand is None:
            object.__setattr__(self, "subcommand", self.name)

    @property
    def api_name(self) -> str:
        """The view's own endpoint (``/similarity``)."""
        return self.endpoints[0].name

    @property
    def api_names(self) -> tuple[str, ...]:
        """Every endpoint name the view answers to, aliases included."""
        return tuple(n for e in self.endpoints for n in (e.name, *e.aliases))

    @property
    def aliases(self) -> tuple[str, ...]:
        """The older names of the view: its subcommand's and its endpoints' aliases."""
        return (*self.subcommand_aliases, *(a for e in self.endpoints for a in e.aliases))

    def columns(self, table: str | None = None) -> tuple[Column, ...]:
        """The columns of one of the view's tables (default: its main table)."""
        if not self.tables:
            raise ValueError(f"The {self.name} view has no table")
        name = table or next(iter(self.tables))
        if name not in self.tables:
            raise ValueError(f"Unknown table: {name}. Must be one of: "
                             f"{', '.join(self.tables)}")
        return self.tables[name]

    def header(self, table: str | None = None) -> list[str]:
        """The column names of one of the view's tables, in order."""
        return [c.name for c in self.columns(table)]

    def widths(self, table: str | None = None) -> list[str]:
        """The columns' widths on the page, as percentages summing to 100 (gradio's
        ``column_widths``)."""
        return percentages([c.width for c in self.columns(table)])

    def build_tab(self, *args: Any) -> Any:
        """Builds the view's tab (inside the app's ``gr.Tabs``); returns its wiring."""
        return resolve(self.tab)(*args)

    def cli(self) -> Any:
        """The subcommand's module (``HELP``, ``add_arguments``, ``run``)."""
        if self.command is None:
            raise ValueError(f"The {self.name} view has no subcommand")
        return resolve(self.command)


def percentages(weights: list[float]) -> list[str]:
    """Whole percentages proportional to ``weights`` that sum to exactly 100 (the largest
    remainders get the leftover points), e.g. [1, 1, 2] -> ["25%", "25%", "50%"]."""
    total = float(sum(weights))
    if not weights or total <= 0:
        raise ValueError("Column widths must be positive")
    exact = [100 * w / total for w in weights]
    whole = [int(x) for x in exact]
    by_remainder = sorted(range(len(exact)), key=lambda i: whole[i] - exact[i])
    for i in by_remainder[: 100 - sum(whole)]:
        whole[i] += 1
    return [f"{w}%" for w in whole]


def resolve(target: str | Any) -> Any:
    """The object a ``"package.module:attribute"`` or ``"package.module"`` path names (imported
    now); anything else is returned as it is."""
    if not isinstance(target, str):
        return target
    module, _, attribute = target.partition(":")
    found = importlib.import_module(module)
    return getattr(found, attribute) if attribute else found


# -- the registry ---------------------------------------------------------------------------------
_VIEWS: dict[str, View] = {}


def register(view: View) -> View:
    """Adds a view after the ones registered so far (its tab last, its report section last).

    Returns:
        The view as registered (with its ``order``).

    Raises:
        ValueError: a name, subcommand or endpoint that another view already uses, or older
            names on an endpoint other than the view's own.
    """
    taken = {n: v.name for v in _VIEWS.values() for n in (v.name, *v.api_names)}
    commands = {n: v.name for v in _VIEWS.values() if v.subcommand
                for n in (v.subcommand, *v.subcommand_aliases)}
    if any(e.aliases for e in view.endpoints[1:]):
        raise ValueError(f"Only the {view.name} view's own endpoint ({view.api_name}) can have "
                         "older names")
    for name in {view.name, *view.api_names}:
        if name in taken:
            raise ValueError(f"The name {name!r} is already the {taken[name]} view's")
    for name in (view.subcommand, *view.subcommand_aliases) if view.subcommand else ():
        if name in commands or name in ("embed", "serve"):
            raise ValueError(f"The subcommand {name!r} is already taken")
    view = replace(view, order=max((v.order for v in _VIEWS.values()), default=0) + 1)
    _VIEWS[view.name] = view
    return view


def unregister(name: str) -> None:
    """Removes a view (tests that register one of their own)."""
    _VIEWS.pop(name, None)


def views() -> Iterator[View]:
    """The registered views in tab and report order."""
    return iter(sorted(_VIEWS.values(), key=lambda v: v.order))


def get(name: str) -> View:
    """The view called ``name`` (or answering to it as a subcommand or endpoint alias)."""
    for view in _VIEWS.values():
        if name == view.name or name in view.aliases or name in view.api_names:
            return view
    raise ValueError(f"Unknown view: {name}. Must be one of: {', '.join(v.name for v in views())}")


def section_order(key: str) -> tuple[int, str]:
    """Sort key of a report section: its view's place, then the key (a view's extra sections
    are keyed ``"<view>-<what>"``, e.g. ``"similarity-compare-0"``); unknown keys go last."""
    owners = [v for v in _VIEWS.values() if key == v.name or key.startswith(f"{v.name}-")]
    # The longest matching name wins, so a view "map-3d" would not be filed under "map".
    owner = max(owners, key=lambda v: len(v.name), default=None)
    return (owner.order if owner else len(_VIEWS) + 1, key)


# -- the views ------------------------------------------------------------------------------------
def _columns(*pairs: tuple[str, float]) -> tuple[Column, ...]:
    return tuple(Column(name, width) for name, width in pairs)


_NEIGHBOURS = _columns(("query_index", 5), ("rank", 4), ("corpus_index", 5), ("cosine", 6),
                       ("margin", 6), ("percentile", 7), ("rescaled", 6), ("query_lang", 4),
                       ("corpus_lang", 4), ("hub", 4), ("query", 20), ("neighbour", 29))

register(View(
    "similarity", "e5ui.ui.similarity:build", "e5ui.cli.similarity",
    endpoints=(Endpoint("similarity"), Endpoint("similarity_compare")),
    tables={
        "similarity": _columns(("index_a", 6), ("index_b", 6), ("label_a", 9), ("label_b", 9),
                               ("cosine", 7), ("percentile", 8), ("rescaled", 7),
                               ("text_a", 24), ("text_b", 24)),
        # similarity --compare MODEL, /similarity_compare: every pair through both models
        "compare": _columns(("index_a", 4), ("index_b", 4), ("label_a", 8), ("label_b", 8),
                            ("cosine_1", 6), ("rank_1", 5), ("percentile_1", 6),
                            ("cosine_2", 6), ("rank_2", 5), ("percentile_2", 6),
                            ("rank_difference", 6), ("text_a", 18), ("text_b", 18)),
    },
    figure_title="e5ui similarity heatmap"))
register(View(
    "neighbours", "e5ui.ui.neighbours:build", "e5ui.cli.neighbours",
    subcommand_aliases=("neighbors",),
    # With --compare-bm25, BM25's neighbour of each rank beside E5's.
    tables={"neighbours": _NEIGHBOURS,
            "bm25": _NEIGHBOURS + _columns(("bm25_index", 5), ("bm25_score", 5),
                                           ("bm25_text", 29))}))
register(View(
    "map", "e5ui.ui.map:build", "e5ui.cli.map",
    # "projection" and "project": the names before it was called "map"; old scripts work.
    # /map_neighbours: a point's neighbours in the embedding space; /map_search: search by
    # meaning over the map's texts.
    endpoints=(Endpoint("map", aliases=("projection",)), Endpoint("map_neighbours"),
               Endpoint("map_search")),
    subcommand_aliases=("project",),
    tables={"map": _columns(("index", 1), ("x", 1), ("y", 1), ("z", 1), ("lang", 1),  # z: 3-D
                            ("label", 1), ("id", 1), ("text", 4)),
            # map --clusters / --search: columns inserted before the map table's text
            "clusters": _columns(("cluster", 1), ("cluster_label", 3)),
            "search": _columns(("search_cosine", 1), ("search_percentile", 1)),
            "neighbours": _columns(("rank", 3), ("index", 4), ("cosine", 5), ("percentile", 6),
                                   ("rescaled", 5), ("lang", 3), ("cross_lingual", 4),
                                   ("hub", 3), ("translation", 4), ("map_rank", 4),
                                   ("far_on_map", 4), ("text", 30)),
            "matches": _columns(("rank", 3), ("index", 4), ("cosine", 5), ("percentile", 6),
                                ("lang", 3), ("text", 30))},
    figure_title="e5ui map"))
register(View(
    "bitext", "e5ui.ui.bitext:build", "e5ui.cli.bitext",
    # /bitext_review: an edit (accept, reject, re-link) or candidates on the last matching
    endpoints=(Endpoint("bitext"), Endpoint("bitext_review")),
    # status last: positional readers of the older six columns keep working
    tables={"pairs": _columns(("src_index", 8), ("tgt_index", 8), ("score", 8), ("cosine", 8),
                              ("source", 34), ("target", 34), ("status", 6)),
            "unmatched": _columns(("side", 1), ("index", 1), ("text", 6))}))
register(View(
    "align", "e5ui.ui.align:build", "e5ui.cli.align",
    # /align_review: the alignment with a saved review and edits applied (accept, break,
    # re-link, merge, split)
    endpoints=(Endpoint("align"), Endpoint("align_review")),
    tables={"links": _columns(("src_indices", 7), ("tgt_indices", 7), ("score", 7),
                              ("type", 5), ("source", 33), ("target", 33), ("status", 5),
                              ("doubt_rank", 5))},
    figure_title="e5ui alignment"))
register(View(
    "explain", "e5ui.ui.explain:build", "e5ui.cli.explain",
    # /pair_score: two typed sentences scored against the same baseline
    endpoints=(Endpoint("explain"), Endpoint("pair_score")),
    figure_title="e5ui scores explained"))
