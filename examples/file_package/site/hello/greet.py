"""Reads a data file shipped next to the module."""

from pathlib import Path


def greet(name: str) -> str:
    """Returns the greeting from data/deep/nested/greeting.txt, addressed to name."""
    template = (Path(__file__).parent / "data" / "deep" / "nested" / "greeting.txt").read_text(encoding="utf-8")
    return template.strip().format(name=name)
