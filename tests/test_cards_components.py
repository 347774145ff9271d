"""Card components: what each renders to, and the HTML the built-in cards make of it."""

from __future__ import annotations

import base64

import pytest

from asyncflow.cards import (
    Artifact,
    Error,
    Image,
    Markdown,
    MetaflowCard,
    ProgressBar,
    Table,
    VegaChart,
    card_type,
    register_card_type,
)
from asyncflow.cards.html import component_html, markdown_html, safe_image_src

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGBgAAAABQABRDE8UwAAAABJRU5ErkJggg=="
)


def test_components_render_to_metaflows_shapes() -> None:
    markdown = Markdown("""
        # Title
        text
    """)
    assert markdown.render()["source"] == "\n# Title\ntext\n"
    assert markdown.render()["type"] == "markdown" and markdown.component_id is not None
    table = Table([["a", Artifact(3)]], headers=["k", "v"]).render()
    assert table["headers"] == ["k", "v"]
    assert table["data"][0][0] == "a" and table["data"][0][1]["type"] == "artifacts"
    bar = ProgressBar(max=10, value=4, label="done", unit="files", metadata="2/s")
    bar.update(5)
    assert {k: v for k, v in bar.render().items() if k != "id"} == {
        "type": "progressBar", "max": 10, "value": 5, "label": "done", "unit": "files",
        "details": "2/s",
    }  # fmt: skip
    assert VegaChart({"mark": "bar"}).render()["spec"] == {"mark": "bar"}
    assert Error(ValueError("x"), "oops").render()["data"] == "ValueError('x')"


def test_image_embeds_known_image_bytes_only() -> None:
    assert Image(PNG, label="dot").render()["src"].startswith("data:image/png;base64,")
    refused = Image(b"<svg onload=alert(1)>").render()
    assert refused["type"] == "error" and "not a PNG, JPEG" in refused["data"]
    assert Image("javascript:alert(1)").render()["type"] == "error"
    assert safe_image_src("data:image/png;base64,AAAA") is not None
    assert safe_image_src('data:image/png;base64,AA" onerror="x') is None


def test_html_escapes_every_value() -> None:
    html = component_html(Table([["<b>x</b>", Artifact("<script>")]], headers=["<h>"]).render())
    assert "<b>" not in html and "<script>" not in html and "&lt;h&gt;" in html
    assert "<i>" not in component_html("<i>plain text</i>")
    assert component_html(Artifact([1]).render()) == "<pre>[1]</pre>"
    assert "<td>x</td>" in component_html(Artifact([1], name="x").render())
    assert component_html({"type": "image", "src": "http://evil/x.png"}).startswith(
        '<div class="af-error">'
    )


def test_markdown_refuses_raw_html_and_script_links() -> None:
    html = markdown_html("# Hi <img src=x onerror=alert(1)>\n\n[a](javascript:alert(1))")
    assert "<img" not in html and 'href="javascript' not in html and "<h1>" in html


def test_a_component_that_fails_to_render_becomes_an_error() -> None:
    class Broken(Markdown):
        def render(self) -> dict[str, object]:
            raise RuntimeError("cannot")

    from asyncflow.cards.components import render_component

    rendered = render_component(Broken("x"))
    assert rendered is not None and not isinstance(rendered, str)
    assert rendered["type"] == "error" and "RuntimeError: cannot" in rendered["data"]


def test_registered_card_types_are_found_by_name() -> None:
    @register_card_type
    class Mine(MetaflowCard):
        type = "mine_for_test"

    assert card_type("mine_for_test") is Mine
    assert card_type("default") is not None and card_type("nope") is None
    with pytest.raises(TypeError, match="not a MetaflowCard subclass"):
        register_card_type(int)  # type: ignore[arg-type]


def test_metaflows_module_paths_hold_the_same_classes_under_any_name() -> None:
    # Metaflow code imports metaflow.plugins.cards.card_modules.test_cards; a shim that maps
    # metaflow.* onto asyncflow.* may load the file again under that name.
    import importlib.util

    import asyncflow.plugins.cards.card_modules.test_cards as module
    from asyncflow.cards.testing import TestStringComponent

    spec = importlib.util.spec_from_file_location("elsewhere.test_cards", module.__file__)
    assert spec is not None and spec.loader is not None
    again = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(again)
    assert again.TestStringComponent is TestStringComponent
