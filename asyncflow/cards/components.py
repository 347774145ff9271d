"""The components a step can put on a card, as Metaflow ships them: ``Markdown``,
``Table``, ``Image``, ``Artifact``, ``ProgressBar``, ``VegaChart`` and ``Error``.

Each renders to a small JSON-able dict (Metaflow's shapes: ``{"type": "markdown",
"source": ...}``), which any card may use; the built-in cards turn them into HTML
(:mod:`asyncflow.cards.html`), escaping every value.
"""

from __future__ import annotations

import base64
import io
import reprlib
import textwrap
from collections.abc import Sequence
from typing import Any

from .base import MetaflowCardComponent, new_component_id

__all__ = [
    "Artifact",
    "Error",
    "Image",
    "Markdown",
    "ProgressBar",
    "Table",
    "UserComponent",
    "VegaChart",
    "describe_value",
    "image_data_uri",
    "render_component",
]


class UserComponent(MetaflowCardComponent):
    """Base of the built-in components: each has an id once rendered."""

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Components without live updates ignore ``update``."""
        return None

    def _with_id(self, data: dict[str, Any]) -> dict[str, Any]:
        if self.component_id is None:
            self.component_id = new_component_id(self)
        return {"id": self.component_id, **data}


def render_component(component: Any) -> str | dict[str, Any] | None:
    """What ``component`` renders to, or an error dict if its ``render`` raised; None
    for anything that is not a component or renders to something else."""
    if not isinstance(component, MetaflowCardComponent):
        return None
    try:
        rendered = component.render()
    except Exception as exc:
        return {"type": "error", "headline": f"{type(component).__name__} failed to render",
                "data": f"{type(exc).__name__}: {exc}"}  # fmt: skip
    return rendered if isinstance(rendered, str | dict) else None


class Markdown(UserComponent):
    """Text in Markdown; common indentation is removed. ``update(text)`` replaces it."""

    REALTIME_UPDATABLE = True

    def __init__(self, text: str | None = None) -> None:
        self._text = textwrap.dedent(text) if text is not None else None

    def update(self, text: str | None = None) -> None:
        """Show ``text`` instead."""
        self._text = textwrap.dedent(text) if text is not None else None

    def render(self) -> dict[str, Any]:
        """``{"type": "markdown", "source": text}``."""
        return self._with_id({"type": "markdown", "source": self._text or ""})


class Artifact(UserComponent):
    """Any Python value, shown as its ``repr`` (shortened when ``compressed``)."""

    REALTIME_UPDATABLE = True

    def __init__(self, artifact: Any, name: str | None = None, compressed: bool = True) -> None:
        self._artifact, self._name, self._compressed = artifact, name, compressed

    def update(self, artifact: Any) -> None:
        """Show ``artifact`` instead."""
        self._artifact = artifact

    def render(self) -> dict[str, Any]:
        """``{"type": "artifacts", "data": [{"name", "type", "data"}]}``."""
        return self._with_id(
            {
                "type": "artifacts",
                "data": [describe_value(self._artifact, self._name, self._compressed)],
            }
        )


_SHORT = reprlib.Repr()
_SHORT.maxstring, _SHORT.maxother, _SHORT.maxlist, _SHORT.maxdict = 400, 400, 30, 30


def describe_value(value: Any, name: str | None = None, compressed: bool = True) -> dict[str, Any]:
    """``{"name", "type", "data"}`` for one value, ``data`` being its (short) repr."""
    kind = type(value)
    try:
        text = _SHORT.repr(value) if compressed else repr(value)
    except Exception as exc:  # a broken __repr__ must not break the card
        text = f"<unprintable {kind.__name__}: {exc}>"
    return {"name": name, "type": f"{kind.__module__}.{kind.__qualname__}", "data": text}


_CELL_TYPES = (str, bool, int, float, type(None))


class Table(UserComponent):
    """Rows of cells; a cell is text, a number, or another component."""

    REALTIME_UPDATABLE = True

    def __init__(
        self,
        data: Sequence[Sequence[Any]] | None = None,
        headers: Sequence[str] | None = None,
        disable_updates: bool = False,
    ) -> None:
        self._data = [list(row) for row in (data or [])]
        self._headers = [str(h) for h in (headers or [])]
        if disable_updates:
            self.REALTIME_UPDATABLE = False  # type: ignore[misc]

    @classmethod
    def from_dataframe(cls, dataframe: Any = None, truncate: bool = True) -> Table:
        """A table of a pandas DataFrame (its first 100 rows when ``truncate``)."""
        if type(dataframe).__name__ != "DataFrame" or not hasattr(dataframe, "columns"):
            return cls(headers=[f"Object type {type(dataframe).__name__} not supported"])
        frame = dataframe.head(100) if truncate else dataframe
        rows = [[_plain(v) for v in row] for row in frame.itertuples(index=False, name=None)]
        return cls(rows, [str(c) for c in frame.columns], disable_updates=True)

    def render(self) -> dict[str, Any]:
        """``{"type": "table", "headers": [...], "data": [[cell, ...], ...]}``."""
        data = [[_render_cell(cell) for cell in row] for row in self._data]
        return self._with_id({"type": "table", "headers": self._headers, "data": data})


def _plain(value: Any) -> Any:
    return value if isinstance(value, _CELL_TYPES) else _SHORT.repr(value)


def _render_cell(cell: Any) -> Any:
    if isinstance(cell, MetaflowCardComponent):
        return render_component(cell)
    return _plain(cell)


_MAGIC = [
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"BM", "bmp"),
]


def image_data_uri(data: bytes) -> str | None:
    """A ``data:image/...;base64`` URI for image bytes, or None if they are no known image."""
    kind = next((k for magic, k in _MAGIC if data.startswith(magic)), None)
    if kind is None and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        kind = "webp"
    if kind is None:
        return None
    return f"data:image/{kind};base64,{base64.b64encode(data).decode('ascii')}"


class Image(UserComponent):
    """An image, embedded in the card: PNG/JPEG/GIF/WebP/BMP bytes, or a
    ``data:image/...;base64`` URI; ``from_pil_image`` and ``from_matplotlib`` convert."""

    def __init__(self, src: bytes | str | None = None, label: str | None = None,
                 disable_updates: bool = True) -> None:  # fmt: skip
        self._label = label
        self._error: str | None = None
        self._src = self._to_src(src)
        self.REALTIME_UPDATABLE = not disable_updates  # type: ignore[misc]

    def _to_src(self, src: bytes | str | None) -> str | None:
        if isinstance(src, bytes | bytearray | memoryview):
            uri = image_data_uri(bytes(src))
            if uri is None:
                self._error = "the bytes are not a PNG, JPEG, GIF, WebP or BMP image"
            return uri
        if isinstance(src, str) and src.startswith("data:image/"):
            return src
        if src is not None:
            self._error = f"cannot show a {type(src).__name__} as an image"
        return None

    @classmethod
    def from_pil_image(cls, pilimage: Any, label: str | None = None,
                       disable_updates: bool = True) -> Image:  # fmt: skip
        """An image of a PIL ``Image`` (saved as PNG)."""
        buffer = io.BytesIO()
        pilimage.save(buffer, format="PNG")
        return cls(buffer.getvalue(), label, disable_updates)

    @classmethod
    def from_matplotlib(cls, plot: Any, label: str | None = None,
                        disable_updates: bool = True) -> Image:  # fmt: skip
        """An image of a matplotlib figure or axes (saved as PNG)."""
        figure = plot.get_figure() if hasattr(plot, "get_figure") else plot
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return cls(buffer.getvalue(), label, disable_updates)

    def update(self, image: Any, label: str | None = None) -> None:
        """Show another image (only if created with ``disable_updates=False``)."""
        if self.REALTIME_UPDATABLE:
            self._src = self._to_src(image)
            self._label = label if label is not None else self._label

    def render(self) -> dict[str, Any]:
        """``{"type": "image", "src": data-uri, "label": ...}``, or an error dict."""
        if self._src is None:
            why = self._error or "`Image` has no `src`"
            return self._with_id({"type": "error", "headline": "Image not shown", "data": why})
        return self._with_id({"type": "image", "src": self._src, "label": self._label})


class Error(UserComponent):
    """An exception (its ``repr``) under an optional title."""

    def __init__(self, exception: BaseException | Any, title: str | None = None) -> None:
        self._exception, self._title = exception, title

    def render(self) -> dict[str, Any]:
        """``{"type": "error", "headline": title, "data": repr(exception)}``."""
        return self._with_id(
            {"type": "error", "headline": self._title or "Error", "data": repr(self._exception)}
        )


class ProgressBar(UserComponent):
    """A progress bar: ``update(value, metadata=...)`` moves it."""

    type = "progressBar"
    REALTIME_UPDATABLE = True

    def __init__(self, max: int = 100, label: str | None = None, value: int = 0,
                 unit: str | None = None, metadata: str | None = None) -> None:  # fmt: skip
        self._max, self._label, self._value = max, label, value
        self._unit, self._metadata = unit, metadata

    def update(self, new_value: int, metadata: str | None = None) -> None:
        """Set the value (and the text shown beside it)."""
        self._value = new_value
        if metadata is not None:
            self._metadata = metadata

    def render(self) -> dict[str, Any]:
        """``{"type": "progressBar", "max", "value", "label", "unit", "details"}``."""
        data: dict[str, Any] = {"type": self.type, "max": self._max, "value": self._value}
        for key, value in (("label", self._label), ("unit", self._unit),
                           ("details", self._metadata)):  # fmt: skip
            if value:
                data[key] = value
        return self._with_id(data)


class VegaChart(UserComponent):
    """A Vega-Lite chart specification (a dict, or an Altair chart via ``from_altair_chart``).

    Cards run no scripts, so the built-in cards show the specification; a viewer
    with Vega (the UI) can draw it from the rendered component.
    """

    type = "vegaChart"
    REALTIME_UPDATABLE = True

    def __init__(self, spec: dict[str, Any], show_controls: bool = False) -> None:
        self._spec, self._show_controls = spec, show_controls

    @classmethod
    def from_altair_chart(cls, altair_chart: Any) -> VegaChart:
        """The chart of an Altair ``Chart``."""
        return cls(spec=altair_chart.to_dict())

    def update(self, spec: Any = None) -> None:
        """Show another specification (a dict or an Altair chart)."""
        if spec is not None:
            self._spec = spec.to_dict() if hasattr(spec, "to_dict") else spec

    def render(self) -> dict[str, Any]:
        """``{"type": "vegaChart", "spec": ..., "options": ...}``."""
        data: dict[str, Any] = {"type": self.type, "spec": self._spec}
        if not self._show_controls:
            data["options"] = {"actions": False}
        return self._with_id(data)
