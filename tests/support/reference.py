"""Where the reference data lives: PayerMax's OpenAPI file and the Java SDK's signature vectors."""

from __future__ import annotations

from pathlib import Path

REFERENCE = Path(__file__).resolve().parents[1] / "data"
