"""String enums whose members carry a one-line meaning, for generated metric documentation.

Each closed set of states the parsers publish (roles, node types, the pgsql agent's states) is a
``DescribedEnum``: ``Member = "value", "what it means"``. ``member.description`` is that text.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self


class DescribedEnum(StrEnum):
    """A ``StrEnum`` whose members are declared as ``NAME = "value", "meaning"``."""

    description: str

    def __new__(cls, value: str, description: str = "") -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.description = description
        return member
