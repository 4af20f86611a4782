"""Six languages for every page and message of the skills portal: a missing or broken translation fails here.

- Server messages: every message of :mod:`cloud.skills.messages` has a
  translation in each gettext catalogue (``cloud/skills/locale``), with the
  same ``{placeholders}``, and no catalogue holds a stale message.
- Pages: every key the portal's pages use (``t("...")``, ``data-i18n``,
  ``card("...")``, table headers, and the key families built at run time)
  is in ``cloud/web/i18n/en.json``, and every language file has every key,
  none empty, with the same placeholders.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from babel.messages.pofile import read_po

from cloud.skills.messages import MESSAGES
from labs.skills.common import LANGUAGES

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "cloud" / "web"
PAGES_JS = ["skills.js", "skills-ui.js", "skills-staff.js", "join.js", "verify.js", "wallet.js"]
PAGES_HTML = ["skills.html", "join.html", "verify.html", "wallet.html"]
#: Keys the pages build at run time (`level.${n}.name`, `source.${src}`, `mode.${m}`, `role.${r}`).
DYNAMIC = ({f"level.{n}.{part}" for n in range(1, 5) for part in ("name", "descriptor")}
           | {f"source.{s}{h}" for s in ("self", "evidence", "assessor") for h in ("", ".help")}
           | {f"mode.{m}" for m in ("online", "on-site", "hybrid")}
           | {f"role.{r}" for r in ("learner", "mentor", "assessor", "hub_operator", "sme_partner")}
           | {f"verify.status.{s}" for s in ("active", "revoked", "suspended")})
PLACEHOLDER = re.compile(r"\{(\w+)(?:![rsa])?\}")


def used_keys() -> set[str]:
    """Every message key the portal's pages use."""
    keys = set(DYNAMIC)
    for name in PAGES_JS:
        src = (WEB / name).read_text(encoding="utf-8")
        keys |= set(re.findall(r'\bt\("([\w.\-]+)"', src))
        keys |= set(re.findall(r'\bcard\("([\w.\-]+)"', src))
        keys |= set(re.findall(r'key: "([\w.\-]+)"', src))
        for heads in re.findall(r'\btable\("[\w\-]+", \[([^\]]*)\]', src):  # table(class, [header keys], rows)
            keys |= set(re.findall(r'"([\w.\-]+)"', heads))
    for name in PAGES_HTML:
        keys |= set(re.findall(r'data-i18n(?:-placeholder|-title)?="([\w.\-]+)"', (WEB / name).read_text(encoding="utf-8")))
    return keys


def page_problems(files: dict[str, dict[str, str]], used: set[str]) -> list[str]:
    """What is missing or wrong in the pages' messages files (``files``: language -> messages)."""
    en = files["en"]
    out = [f"en.json: no message {k!r} (used by the pages)" for k in sorted(used - set(en))]
    for lang in LANGUAGES:
        msgs = files.get(lang)
        if msgs is None:
            out.append(f"{lang}.json: missing")
            continue
        for key, text in en.items():
            got = msgs.get(key)
            if not (got or "").strip():
                out.append(f"{lang}.json: {key!r} has no translation")
            elif set(PLACEHOLDER.findall(got)) != set(PLACEHOLDER.findall(text)):
                out.append(f"{lang}.json: {key!r} has placeholders {sorted(PLACEHOLDER.findall(got))}, "
                           f"English has {sorted(PLACEHOLDER.findall(text))}")
        out += [f"{lang}.json: {k!r} is not an English key" for k in sorted(set(msgs) - set(en))]
    return out


def _pages() -> dict[str, dict[str, str]]:
    return {lang: json.loads((WEB / "i18n" / f"{lang}.json").read_text(encoding="utf-8")) for lang in LANGUAGES}


def test_every_page_string_is_in_six_languages():
    assert page_problems(_pages(), used_keys()) == []


def test_the_page_check_fails_on_a_missing_or_broken_translation():
    files = _pages()
    files["tr"] = {k: v for k, v in files["tr"].items() if k != "nav.pathway"}
    files["sl"] = {**files["sl"], "fit": "ujemanje"}
    problems = page_problems(files, used_keys() | {"brand.new"})
    assert "en.json: no message 'brand.new' (used by the pages)" in problems
    assert "tr.json: 'nav.pathway' has no translation" in problems
    assert any(p.startswith("sl.json: 'fit' has placeholders []") for p in problems)


def catalogue_problems(lang: str) -> list[str]:
    with open(ROOT / "cloud/skills/locale" / lang / "LC_MESSAGES/messages.po", "rb") as f:
        cat = read_po(f, locale=lang)
    out = []
    for key, text in MESSAGES.items():
        msg = cat.get(text)
        if msg is None or not msg.string:
            out.append(f"{lang}: {key!r} has no translation")
        elif set(PLACEHOLDER.findall(msg.string)) != set(PLACEHOLDER.findall(text)):
            out.append(f"{lang}: {key!r} placeholders differ")
    stale = {m.id for m in cat if m.id} - set(MESSAGES.values())
    out += [f"{lang}: stale message {s!r}" for s in sorted(stale)]
    return out


def test_every_server_message_is_in_six_languages():
    assert [p for lang in LANGUAGES if lang != "en" for p in catalogue_problems(lang)] == []


def test_the_pages_use_the_shared_helpers_and_no_untranslated_literal_headings():
    for name in PAGES_HTML:
        html = (WEB / name).read_text(encoding="utf-8")
        for tag, text in re.findall(r"<(h2|button|legend)([^>]*)>", html):
            assert "data-i18n" in text, f"{name}: <{tag}{text}> has no data-i18n"
    assert "from \"./common.js\"" in (WEB / "skills.js").read_text()
