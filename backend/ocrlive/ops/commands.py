"""The operations commands: doctor, backup, restore, service install."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ocrlive.settings import Settings


def doctor(settings: Settings, _args: argparse.Namespace) -> int:
    from ocrlive.ops.doctor import doctor_main

    return doctor_main(settings)


def backup(settings: Settings, args: argparse.Namespace) -> int:
    from ocrlive.ops.backup import backup as make_backup

    manifest = _backup_step("backup", make_backup, settings, args.dest)
    if manifest is None:
        return 1
    rows = ", ".join(f"{n} {t}" for t, n in sorted(manifest["rows"].items()))
    print(f"backed up {settings.data_dir} to {args.dest}: {len(manifest['files'])} files; {rows}")
    return 0


def restore(settings: Settings, args: argparse.Namespace) -> int:
    from ocrlive.ops.backup import restore as restore_backup

    manifest = _backup_step("restore", restore_backup, settings, args.src)
    if manifest is None:
        return 1
    print(f"restored {args.src} ({manifest['created_at']}) into {settings.data_dir}; "
          f"start it with: ocrlive serve --data-dir {settings.data_dir}")  # fmt: skip
    return 0


def _backup_step(
    name: str, step: Callable[[Settings, Path], dict[str, Any]], settings: Settings, path: Path
) -> dict[str, Any] | None:
    from ocrlive.ops.backup import BackupError

    try:
        return step(settings, path)
    except BackupError as exc:
        print(f"ocrlive {name}: {exc}", file=sys.stderr)
        return None


def service(settings: Settings, args: argparse.Namespace) -> int:
    from ocrlive.ops.service import STATE_ROOT, UnitOptions, install_unit

    data_dir = getattr(args, "data_dir", None) or STATE_ROOT / "ocrlive"
    options = UnitOptions(data_dir=data_dir, host=settings.host, port=settings.port,
                          user=args.user)  # fmt: skip
    print(install_unit(options, args.unit_path, enable=args.enable))
    return 0
