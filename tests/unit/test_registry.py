"""The view registry: a view declared once is a tab, an API endpoint, a subcommand and a report
section; each real view's tables are what its declaration says, to the column."""

from __future__ import annotations

import csv
import types
from dataclasses import dataclass

import gradio as gr
import pytest

from e5ui import registry, segment, textio, ui, views
from e5ui.__main__ import main
from e5ui.cli.common import records
from e5ui.holder import ModelHolder
from e5ui.registry import Column, Endpoint, View
from e5ui.settings import Settings
from e5ui.ui import common
from tests.conftest import FakeEncoder

REAL = ["similarity", "neighbours", "map", "bitext", "align", "explain"]


# -- a toy view, declared in this test alone --------------------------------------------------
@dataclass
class ToyResult:
    table: views.Table
    notes: list[str]


def toy_view(text: str) -> ToyResult:
    """The toy view: each word and its length, in the columns the registry declares (in
    whatever order it declares them)."""
    header = registry.get("toy").header()
    cells = [{"word": w, "length": len(w), "vowels": sum(c in "aeiou" for c in w)}
             for w in text.split()]
    return ToyResult(views.Table(header, [[c[name] for name in header] for c in cells]), [])


def toy_run(text: str):
    """/toy"""
    return toy_view(text).table.frame()


def build_toy_tab(app, report_state, theme) -> common.Wiring:
    view = registry.get("toy")
    with gr.Tab("Toy", id=view.name):
        words = gr.Textbox(label="Words")
        button = gr.Button("Count")
        table = gr.Dataframe(column_widths=view.widths())
    wiring = common.Wiring(toy_run, [words], [table])
    wiring.on(button.click, api_name=view.api_name)
    return wiring


def _toy_arguments(parser) -> None:
    parser.add_argument("words", nargs="+", help="the words to measure")


def _toy_command(args, encoder) -> int:
    for row in records(toy_view(" ".join(args.words)).table):
        print(f"{row['word']} has {row['length']} letters")
    return 0


TOY_COMMAND = types.SimpleNamespace(HELP="measure words (a toy)", add_arguments=_toy_arguments,
                                    run=_toy_command)
TOY = View("toy", build_toy_tab, TOY_COMMAND,
           endpoints=(Endpoint("toy", aliases=("toy_before",)),), subcommand_aliases=("toys",),
           tables={"words": (Column("word", 3), Column("length", 1))})


@pytest.fixture
def toy():
    view = registry.register(TOY)
    try:
        yield view
    finally:
        registry.unregister("toy")


@pytest.fixture
def holder(private_cache):
    return ModelHolder(Settings(model="fake"), encoder=FakeEncoder())


def _page_tabs(demo) -> list[str]:
    """The ids of the page's tabs: the children of the Tabs named "e5ui-tabs" (a view may
    have tabs of its own inside its tab)."""
    components = {c["id"]: c for c in demo.config["components"]}
    (outer,) = [i for i, c in components.items() if c["props"].get("elem_id") == "e5ui-tabs"]

    def find(node):
        if node["id"] == outer:
            return node
        return next((hit for child in node.get("children", []) if (hit := find(child))), None)

    tabs = find(demo.config["layout"])
    return [components[child["id"]]["props"]["id"] for child in tabs["children"]]


def test_a_view_registered_alone_is_a_tab_and_an_endpoint(toy, holder):
    demo = ui.build_demo(holder=holder)
    assert _page_tabs(demo) == [*REAL, "toy"]  # the registry's order, the new view last
    widths = [c["props"]["column_widths"] for c in demo.config["components"]
              if c["type"] == "dataframe"]
    assert ["75%", "25%"] in widths  # word 3 : length 1
    endpoints = demo.get_api_info()["named_endpoints"]
    for name in ("/toy", "/toy_before"):  # the older name is wired by the app, not the tab
        (param,) = endpoints[name]["parameters"]
        assert param["label"] == "Words" and param["component"] == "Textbox"
    fn = next(f for f in demo.fns.values() if f.api_name == "toy_before")
    assert fn.fn("pear fig").values.tolist() == [["pear", 4], ["fig", 3]]


def test_a_view_registered_alone_is_a_subcommand(toy, capsys):
    with pytest.raises(SystemExit) as done:
        main(["toy", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "usage: python -m e5ui toy" in out and "the words to measure" in out
    assert "--model" in out  # every subcommand takes the model flags
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "toy (toys)" in out and "measure words (a toy)" in out
    assert main(["toys", "pear", "fig"]) == 0
    assert capsys.readouterr().out == "pear has 4 letters\nfig has 3 letters\n"


def test_a_column_added_to_a_view_does_not_shift_what_the_cli_prints(toy, capsys):
    registry.unregister("toy")
    registry.register(View(**{**vars(TOY), "tables": {"words": (
        Column("word", 3), Column("vowels", 1), Column("length", 1))}}))
    assert toy_view("pear").table.header == ["word", "vowels", "length"]
    assert main(["toy", "pear", "fig"]) == 0
    assert capsys.readouterr().out == "pear has 4 letters\nfig has 3 letters\n"


def test_an_unregistered_view_is_gone(capsys):
    assert "toy" not in [v.name for v in registry.views()]
    with pytest.raises(SystemExit) as bad:
        main(["toy", "pear"])
    assert bad.value.code == 2 and "invalid choice: 'toy'" in capsys.readouterr().err


def test_the_report_follows_the_registry_not_the_order_views_ran(toy, tmp_path):
    ran = {"toy": ("Toy", "<p>t</p>"), "explain": ("Scores explained", "<p>e</p>"),
           "similarity-compare-2": ("Model vs model", "<p>c</p>"),
           "map": ("Map", "<p>m</p>"), "similarity": ("Similarity heatmap", "<p>s</p>")}
    page = open(views.report(ran, None, tmp_path), encoding="utf-8").read()
    where = {h: page.index(f"<h2>{h}</h2>") for h, _ in ran.values()}
    assert sorted(where, key=where.get) == ["Similarity heatmap", "Model vs model", "Map",
                                            "Scores explained", "Toy"]


# -- the registry's rules ------------------------------------------------------------------------
def test_the_real_views_in_order_with_their_names():
    assert [v.name for v in registry.views()] == REAL
    assert registry.get("project").name == "map" and registry.get("projection").name == "map"
    assert registry.get("neighbors").name == "neighbours"
    assert registry.get("similarity_compare").name == "similarity"
    with pytest.raises(ValueError, match="Unknown view: tsne. Must be one of: similarity, "):
        registry.get("tsne")


@pytest.mark.parametrize("clash, message", [
    (View("maps", build_toy_tab, endpoints=(Endpoint("projection"),)), "'projection'"),
    (View("map", build_toy_tab), "'map'"),
    (View("toy", build_toy_tab, TOY_COMMAND, subcommand="serve"), "'serve'"),
    (View("toy", build_toy_tab, TOY_COMMAND, subcommand_aliases=("neighbors",)), "'neighbors'"),
    (View("toy", build_toy_tab, endpoints=(Endpoint("toy"), Endpoint("toy_x", ("old",)))),
     "own endpoint"),
])
def test_a_clashing_declaration_is_refused(clash, message):
    with pytest.raises(ValueError, match=message):
        registry.register(clash)
    assert [v.name for v in registry.views()] == REAL


def test_every_endpoint_of_the_app_is_declared_and_every_declared_one_exists(holder):
    demo = ui.build_demo(holder=holder)
    declared = {f"/{n}" for v in registry.views() for n in v.api_names}
    assert set(demo.get_api_info()["named_endpoints"]) == declared
    assert declared == {"/similarity", "/similarity_compare", "/neighbours", "/map",
                        "/map_neighbours", "/map_search",
                        "/projection", "/bitext", "/bitext_review", "/align", "/align_review",
                        "/explain",
                        "/pair_score"}


def test_every_view_with_a_command_is_a_subcommand(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for line in ("embed ", "similarity ", "neighbours (neighbors)", "map (project)", "bitext ",
                 "align ", "explain ", "serve "):
        assert f"    {line}" in out, line


def test_widths_are_whole_percentages_summing_to_100():
    assert registry.percentages([1, 1, 2]) == ["25%", "25%", "50%"]
    assert registry.percentages([1, 1, 1]) == ["34%", "33%", "33%"]
    for view in registry.views():
        for table in view.tables:
            widths = view.widths(table)
            assert len(widths) == len(view.header(table))
            assert sum(int(w.rstrip("%")) for w in widths) == 100, (view.name, table)
    # the pages' tables keep the widths they had when they were kept by hand
    assert registry.get("neighbours").widths() == ["5%", "4%", "5%", "6%", "6%", "7%", "6%",
                                                   "4%", "4%", "4%", "20%", "29%"]
    assert registry.get("similarity").widths() == ["6%", "6%", "9%", "9%", "7%", "8%", "7%",
                                                   "24%", "24%"]
    with pytest.raises(ValueError, match="positive"):
        registry.percentages([0, 0])


# -- each real view writes the header its declaration names -----------------------------------
def written_header(result_or_table, tmp_path) -> list[str]:
    path = result_or_table.write(tmp_path / "t.tsv")
    with open(path, encoding="utf-8", newline="") as f:
        return next(csv.reader(f, delimiter="\t"))


def assert_declared(table: views.Table, view: str, name: str | None = None) -> None:
    declared = registry.get(view).header(name)
    assert table.header == declared, (view, name)
    assert all(len(row) == len(declared) for row in table.rows), (view, name)
    assert list(next(records(table))) == declared


def test_each_view_writes_the_columns_its_registry_entry_declares(tmp_path, private_cache):
    enc = FakeEncoder()
    texts = textio.parse_lines("fresh bread\nblue sky\nbread and sky\nnothing at all")
    sim = views.similarity_view(enc, texts, "input")
    assert_declared(sim.top, "similarity")
    both = views.compare_models_view(enc, FakeEncoder(model="fake/other", dim=24), texts)
    assert_declared(both.table, "similarity", "compare")
    assert written_header(both, tmp_path) == registry.get("similarity").header("compare")
    found = views.neighbours_view(enc, texts, texts, 2)
    assert_declared(found.table, "neighbours")
    assert written_header(found, tmp_path) == registry.get("neighbours").header()
    assert_declared(views.neighbours_view(enc, texts, texts, 2, compare_bm25=True).table,
                    "neighbours", "bm25")
    data = views.map_data(enc, texts)
    assert_declared(views.map_view(data, "pca", 3).table, "map")
    flat = views.map_view(data, "pca", 2).table.header  # z only in 3-D
    assert flat == [c for c in registry.get("map").header() if c != "z"]
    pairs = views.bitext_view(enc, texts, textio.parse_lines("sky\nbread\nzzz"))
    assert_declared(pairs.table, "bitext", "pairs")
    assert written_header(pairs, tmp_path) == registry.get("bitext").header("pairs")
    assert_declared(pairs.unmatched, "bitext", "unmatched")
    src, tgt = segment.split_pair("One fish. Two fish.", "Ein Fisch. Zwei Fische.",
                                  source_lang="en", target_lang="de")
    links = views.align_view(enc, src, tgt)
    assert_declared(links.table, "align", "links")
    assert written_header(links, tmp_path) == registry.get("align").header("links")
    assert not registry.get("explain").tables


def test_figure_pages_carry_the_declared_title(tmp_path, private_cache):
    enc = FakeEncoder()
    texts = textio.parse_lines("a\nb\nc")
    results = {"similarity": views.similarity_view(enc, texts),
               "map": views.map_view(views.map_data(enc, texts), "pca"),
               "explain": views.explain_view(enc, texts)}
    for name, result in results.items():
        page = result.write(tmp_path / f"{name}.html").read_text(encoding="utf-8")
        assert f"<title>{registry.get(name).figure_title}</title>" in page, name
