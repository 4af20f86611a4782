"""What the skills data files share: the six languages, proficiency levels, localised text and data errors.

Examples
--------
>>> LANGUAGES
('en', 'es', 'fr', 'it', 'tr', 'sl')
>>> LEVELS[3].name
'Advanced'
>>> Text.model_validate({l: "x" for l in LANGUAGES}).get("sl")
('x', False)
>>> Text.model_validate({"en": "pump", **{l: "" for l in LANGUAGES[1:]}})
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for Text
...
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, RootModel, ValidationError, model_validator

#: Folder of the shipped data files.
DATA_DIR = Path(__file__).with_name("data")
#: The portal's languages: English, Spanish, French, Italian, Turkish, Slovenian.
LANGUAGES = ("en", "es", "fr", "it", "tr", "sl")
Lang = Literal["en", "es", "fr", "it", "tr", "sl"]
#: How a language is named in itself (the language switcher).
LANGUAGE_NAMES = {"en": "English", "es": "Español", "fr": "Français", "it": "Italiano", "tr": "Türkçe",
                  "sl": "Slovenščina"}


@dataclass(frozen=True)
class Level:
    """One of the four proficiency levels (``../shared/SKILLS.md``)."""

    number: int
    name: str
    descriptor: str


#: Beginner, Intermediate, Advanced, Expert (English; the pages show them translated).
LEVELS = {
    1: Level(1, "Beginner", "foundational understanding; carries out basic tasks with guidance"),
    2: Level(2, "Intermediate", "applies the skill independently in familiar contexts"),
    3: Level(3, "Advanced", "masters complex situations and optimises the work"),
    4: Level(4, "Expert", "innovates, leads others, extends the practice"),
}


class Strict(BaseModel):
    """A data-file model that refuses unknown fields (a typo is an error, not a silently ignored field)."""

    model_config = ConfigDict(extra="forbid")


class Text(RootModel[dict[str, str]]):
    """A text in all six languages, none empty (the language-completeness check)."""

    @model_validator(mode="after")
    def _complete(self) -> "Text":
        missing = [lang for lang in LANGUAGES if not (self.root.get(lang) or "").strip()]
        extra = sorted(set(self.root) - set(LANGUAGES))
        if missing:
            raise ValueError(f"missing or empty in {missing}; every text needs {list(LANGUAGES)}")
        if extra:
            raise ValueError(f"unknown language(s) {extra}; expected {list(LANGUAGES)}")
        return self

    def get(self, lang: str) -> tuple[str, bool]:
        """The text in ``lang`` and whether it fell back to English (an unknown language)."""
        if lang in self.root:
            return self.root[lang], False
        return self.root["en"], True


class DataError(ValueError):
    """A data file that cannot be used; ``errors`` lists every problem as ``file: field: message``."""

    def __init__(self, what: str, errors: list[str]) -> None:
        self.what, self.errors = what, errors
        super().__init__(f"{what}: {len(errors)} problem(s):\n" + "\n".join(f"  - {e}" for e in errors))


def loc(parts: tuple) -> str:
    """A pydantic error location as ``skills[3].labels.en``."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out or "(top level)"


def validation_errors(fname: str, exc: ValidationError, prefix: str = "") -> list[str]:
    """Every problem of ``exc`` as ``fname: where = value: message``."""
    msgs = []
    for err in exc.errors():
        where = f"{fname}: {prefix}{loc(err['loc'])}"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] in ("missing", "extra_forbidden") or not err["loc"]:
            msgs.append(f"{where}: {msg}")
        else:
            shown = repr(err["input"]) if len(repr(err["input"])) < 60 else type(err["input"]).__name__
            msgs.append(f"{where} = {shown}: {msg}")
    return msgs


def read_yaml(path: Path) -> dict:
    """A YAML mapping from ``path``, or :class:`DataError` naming the file."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(path.name, ["file missing"]) from None
    except yaml.YAMLError as exc:
        raise DataError(path.name, [f"not valid YAML: {exc}"]) from None
    if not isinstance(doc, dict):
        raise DataError(path.name, [f"top level must be a mapping, got {type(doc).__name__}"])
    return doc


LevelInt = Field(ge=1, le=4, description="proficiency 1-4: Beginner, Intermediate, Advanced, Expert")
