"""What a resumable job must find unchanged to pick up where it stopped (`convert`, `signatures`).

A job is a flat record of named fields (a checkpoint's SHA-256, an input's size and mtime, a
table's SHA-256, each setting); groups name those fields for the refusal, which says what
differs: "another input (input_bytes: 10 -> 12)". Converted profiles are known by the checksum
of the manifest that `convert` writes beside them (`out.gctx` -> `out.json`), which this module
reads without loading the model code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

PROFILES_FORMAT = "lincs-transform-profiles"  # the "format" of convert's manifest


class JobMismatch(ValueError):
    """The work folder holds another job than the one asked for."""


def job_differences(
    before: Mapping[str, Any], after: Mapping[str, Any], groups: Mapping[str, Sequence[str]]
) -> list[str]:
    """What differs from `before` to `after`, group by group, as 'input (input_bytes: 10 -> 12)'."""
    found = []
    for what, names in groups.items():
        changed = [name for name in names if before.get(name) != after.get(name)]
        if changed:
            shown = ", ".join(_change(n, before.get(n), after.get(n)) for n in changed)
            found.append(f"{what} ({shown})")
    return found


def _change(name: str, before: object, after: object) -> str:
    if isinstance(after, list | tuple) and len(after) > 4:
        return f"{name} differ"
    if name.endswith(("sha256", "checksum")):
        before, after = f"{str(before)[:12]}...", f"{str(after)[:12]}..."
    return f"{name}: {before} -> {after}"


def manifest_path(profiles: Path) -> Path:
    """Where `convert` puts the manifest of the profiles it writes."""
    return Path(profiles).with_suffix(".json")


def recorded_checksum(profiles: Path) -> str | None:
    """The matrix checksum that convert's manifest beside `profiles` records for them, or None
    where there is no such manifest (profiles that convert did not write)."""
    try:
        manifest = json.loads(manifest_path(profiles).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != PROFILES_FORMAT:
        return None
    if manifest.get("file") != Path(profiles).name:
        return None
    checksum = manifest.get("checksum")
    return str(checksum) if checksum else None


def file_identity(path: Path, name: str) -> dict[str, Any]:
    """A large input's identity, cheap at any size: its path, size, modification time (ns) and
    the content checksum its conversion manifest records (None where it has none)."""
    stat = Path(path).stat()
    return {
        name: str(Path(path).resolve()),
        f"{name}_bytes": stat.st_size,
        f"{name}_mtime_ns": stat.st_mtime_ns,
        f"{name}_checksum": recorded_checksum(path),
    }
