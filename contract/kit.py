"""The starter-kit archive both sides agree on: a tar.gz of ``kit/*`` files and a manifest of their SHA-256.

The hub builds it (:mod:`cloud.onboarding.kits`); ``teachfab edge install``
reads it on the gateway with :func:`read_archive`, stdlib only, so an
edge-only install can open a kit.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

KIT_FORMAT = "teachfab-kit/1"


def read_archive(path: str | Path) -> tuple[dict, dict[str, bytes]]:
    """Open a kit archive: its manifest and files, each checked against the manifest's SHA-256.

    ``ValueError`` names what is wrong (not a kit, a file missing, altered or extra, an unsafe path).
    """
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(path, mode="r:gz") as tar:
            for member in tar.getmembers():
                if not member.isfile():
                    continue
                name = member.name
                if not name.startswith("kit/") or ".." in Path(name).parts or Path(name).is_absolute():
                    raise ValueError(f"kit archive {path}: unexpected member {name!r}")
                files[name[4:]] = tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ValueError(f"{path} is not a readable kit archive (tar.gz): {exc}") from None
    if "manifest.json" not in files:
        raise ValueError(f"{path}: no manifest.json, not a TeachFab kit")
    manifest = json.loads(files.pop("manifest.json"))
    if manifest.get("format") != KIT_FORMAT:
        raise ValueError(f"{path}: kit format {manifest.get('format')!r}, this teachfab reads {KIT_FORMAT!r}")
    expected = manifest.get("files", {})
    if set(expected) != set(files):
        raise ValueError(f"{path}: files {sorted(files)} do not match the manifest's {sorted(expected)}")
    for name, data in files.items():
        if hashlib.sha256(data).hexdigest() != expected[name]:
            raise ValueError(f"{path}: {name} does not match its SHA-256 in the manifest (altered or damaged)")
    return manifest, files
