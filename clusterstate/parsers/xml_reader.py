"""Hardened XML loading and typed attribute access for pacemaker documents.

``parse_hardened_xml`` never resolves entities, never touches the network and refuses DTDs.
``XmlReader`` reads attributes as typed values and reports the element and line of anything
malformed as ``XmlShapeError`` (a ``ValueError``); the document parsers wrap it in their own type.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import tzinfo
from typing import TypeVar

from lxml import etree

from clusterstate.parsers import pcmk_values

_T = TypeVar("_T")


_FAST_BOOLEANS = {"true": True, "false": False}


class XmlShapeError(ValueError):
    """A document is not well-formed, or an element lacks or garbles an attribute."""


def parse_hardened_xml(xml: bytes) -> etree._Element:
    """Parse ``xml`` without entity expansion, network access, DTDs, comments or PIs."""
    if not isinstance(xml, bytes | bytearray):
        raise XmlShapeError(f"expected bytes, got {type(xml).__name__}")
    if b"<!DOCTYPE" in xml:
        # pacemaker never writes one; refusing it up front keeps entity tricks out entirely
        raise XmlShapeError("XML with a DOCTYPE is refused")
    # A parser per call: lxml parser objects must not be shared between threads.
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(bytes(xml), parser)
    except (etree.LxmlError, ValueError) as exc:
        raise XmlShapeError(f"not well-formed XML: {exc}") from exc
    if root is None:
        raise XmlShapeError("empty XML document")
    return root


class XmlReader:
    """Walks a document: element children, and typed attribute access via ``attrs``."""

    def __init__(self, local_tz: tzinfo) -> None:
        self.local_tz = local_tz
        """The zone that zone-less timestamps are read in."""
        # Decoded values by text: a status repeats the same timestamps and durations many times.
        self.times: dict[str, float | None] = {}
        self.durations: dict[str, float] = {}

    @staticmethod
    def elements(parent: etree._Element, tag: str | None = None) -> Iterator[etree._Element]:
        """Element children of ``parent`` (entities skipped), optionally only those ``tag``."""
        return parent.iterchildren(tag if tag is not None else etree.Element)

    def attrs(self, element: etree._Element) -> Attrs:
        """Typed access to the attributes of ``element``."""
        return Attrs(element, self)

    @staticmethod
    def fail(element: etree._Element, message: str) -> XmlShapeError:
        """An error located at ``element``."""
        return XmlShapeError(f"<{element.tag}> at line {element.sourceline}: {message}")


class Attrs:
    """The attributes of one element, read once into a dict (lxml's per-call ``get`` is what a
    500-resource status would otherwise spend its time in), with typed, located accessors."""

    __slots__ = ("_element", "_reader", "_values")

    def __init__(self, element: etree._Element, reader: XmlReader) -> None:
        self._element = element
        self._reader = reader
        self._values: dict[str, str] = dict(element.items())  # type: ignore[arg-type]

    def fail(self, message: str) -> XmlShapeError:
        """An error located at this element."""
        return XmlReader.fail(self._element, message)

    def opt(self, name: str) -> str | None:
        """The attribute's text, ``None`` when absent or empty."""
        return self._values.get(name) or None

    def req(self, name: str) -> str:
        """A required, non-empty attribute."""
        value = self._values.get(name)
        if not value:
            raise self.fail(f"missing attribute {name!r}")
        return value

    def req_raw(self, name: str) -> str:
        """A required attribute that may be empty."""
        value = self._values.get(name)
        if value is None:
            raise self.fail(f"missing attribute {name!r}")
        return value

    def _convert(self, name: str, convert: Callable[[str], _T]) -> _T | None:
        value = self._values.get(name)
        if not value:
            return None
        try:
            return convert(value)
        except ValueError as exc:
            raise self.fail(f"attribute {name!r}: {exc}") from exc

    def flag(self, name: str, default: bool = False) -> bool:
        """A boolean attribute with a default for when it is absent."""
        text = self._values.get(name)
        if not text:
            return default
        value = _FAST_BOOLEANS.get(text)  # the common spelling, without the converter's cost
        if value is None:
            value = self._convert(name, pcmk_values.parse_bool)
        return default if value is None else value

    def opt_bool(self, name: str) -> bool | None:
        """A boolean attribute, ``None`` when absent."""
        return self._convert(name, pcmk_values.parse_bool)

    def opt_int(self, name: str) -> int | None:
        """An integer attribute, ``None`` when absent."""
        text = self._values.get(name)
        if text and text.isdigit() and text.isascii() and len(text) < 20:
            return int(text)
        return self._convert(name, pcmk_values.parse_int)

    def req_int(self, name: str) -> int:
        """A required integer attribute."""
        value = self.opt_int(name)
        if value is None:
            raise self.fail(f"missing attribute {name!r}")
        return value

    def opt_score(self, name: str) -> float | None:
        """A score (INFINITY and |n| >= 1000000 are +/-inf), ``None`` when absent."""
        return self._convert(name, pcmk_values.parse_score)

    def opt_ms(self, name: str) -> float | None:
        """A millisecond duration ("2044ms" or "2044") in seconds, ``None`` when absent."""
        text = self._values.get(name)
        if not text:
            return None
        seconds = self._reader.durations.get(text)
        if seconds is None:
            seconds = self._convert(name, pcmk_values.parse_ms)
            if seconds is not None:
                self._reader.durations[text] = seconds
        return seconds

    def opt_interval(self, name: str) -> float | None:
        """A CIB interval spec ("10s", "PT1M", "500ms") in seconds, ``None`` when absent."""
        return self._convert(name, pcmk_values.parse_interval_spec)

    def opt_time(self, name: str) -> float | None:
        """A timestamp in any pacemaker spelling as Unix time, ``None`` when absent or blank."""
        value = self._values.get(name)
        if not value:
            return None
        cache = self._reader.times
        if value in cache:
            return cache[value]
        try:
            when = pcmk_values.parse_pcmk_time(value, self._reader.local_tz)
        except ValueError as exc:
            raise self.fail(f"attribute {name!r}: {exc}") from exc
        cache[value] = when
        return when
