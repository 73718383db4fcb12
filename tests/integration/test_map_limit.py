"""The map's own limit (``--max-map-texts``): the Map and the Neighbours corpus take more texts
than the one-list views, on the server side of every endpoint that reads them."""

from __future__ import annotations

from dataclasses import fields

import pytest

from tests.conftest import FakeEncoder
from tests.integration.conftest import small_app

pytestmark = pytest.mark.integration

MAP_LIMIT, TEXTS_LIMIT = 30, 10


def lines(n: int, stem: str = "t") -> str:
    return "\n".join(f"{stem}{i}" for i in range(n))


def test_the_flag_and_the_variable_set_the_map_limit():
    from e5ui.__main__ import build_parser
    from e5ui.settings import Limits

    assert Limits().max_map_texts == 100_000
    assert Limits.from_env({"E5UI_MAX_MAP_TEXTS": "7"}).max_map_texts == 7
    args = build_parser().parse_args(["serve", "--max-map-texts", "9"])
    given = {f.name: getattr(args, f.name) for f in fields(Limits)}
    assert Limits.from_env({"E5UI_MAX_MAP_TEXTS": "7"}, **given).max_map_texts == 9
    with pytest.raises(ValueError, match="E5UI_MAX_MAP_TEXTS must be at least 1"):
        Limits.from_env({"E5UI_MAX_MAP_TEXTS": "0"})


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    root = tmp_path_factory.mktemp("maplimit")
    with small_app(root, FakeEncoder(), max_texts=TEXTS_LIMIT, max_side=12,
                   max_map_texts=MAP_LIMIT) as (client, _):
        yield client


def test_a_map_at_the_limit_is_drawn_and_one_more_text_is_refused(client):
    from gradio_client.exceptions import AppError

    *_, saved, _state = client.predict(lines(MAP_LIMIT), None, "pca", api_name="/map")
    table, _, _ = client.predict(lines(MAP_LIMIT), None, 3, 4, api_name="/map_neighbours")
    assert len(table["data"]) == 4
    table, _ = client.predict(lines(MAP_LIMIT), None, "t3", 0.5, api_name="/map_search")
    assert table["data"]
    over = lines(MAP_LIMIT + 1)
    message = f"has more than {MAP_LIMIT} texts; this view takes at most {MAP_LIMIT}"
    for name, args in (("/map", (over, None, "pca")), ("/projection", (over, None, "pca")),
                       ("/map_neighbours", (over, None, 3, 4)),
                       ("/map_search", (over, None, "t3", 0.5))):
        with pytest.raises(AppError, match=message):
            client.predict(*args, api_name=name)


def test_the_neighbours_corpus_takes_the_map_limit_and_its_queries_the_text_limit(client):
    from gradio_client.exceptions import AppError

    table, *_ = client.predict(lines(2, "q"), lines(MAP_LIMIT, "c"), None, None, 1,
                               api_name="/neighbours")
    assert len(table["data"]) == 2
    with pytest.raises(AppError, match=f"corpus has more than {MAP_LIMIT} texts"):
        client.predict("q", lines(MAP_LIMIT + 1, "c"), api_name="/neighbours")
    with pytest.raises(AppError, match=f"query list has more than {TEXTS_LIMIT} texts"):
        client.predict(lines(TEXTS_LIMIT + 1, "q"), "c", api_name="/neighbours")


def test_similarity_and_bitext_keep_their_own_limits(client):
    from gradio_client.exceptions import AppError

    client.predict(lines(TEXTS_LIMIT), api_name="/similarity")
    with pytest.raises(AppError, match=f"at most {TEXTS_LIMIT}"):
        client.predict(lines(TEXTS_LIMIT + 1), api_name="/similarity")
    with pytest.raises(AppError, match="at most 12"):
        client.predict(lines(13), lines(3), api_name="/bitext")
