"""Where the files esd ships beside its package are: the statecharts, the systemd unit and its
sysusers/tmpfiles entries, the example config.

They live at the top of the source tree for people to read and are installed by the wheel as
data files under `{prefix}/share/esd/`. An installed daemon finds them through its own
distribution's record of installed files, so a `pip install --user`, a `--prefix` or a
`--target` install finds them as well as a venv does; `{sys.prefix}/share/esd` is only the
last resort. `esd install-files DIR` copies the operator's part of them out of the package.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import sys
from pathlib import Path, PurePosixPath
from typing import Final

from daemon.errors import ShippedFilesMissing

__all__ = [
    "INSTALL_FILES",
    "InstallFile",
    "install_files",
    "shipped_dir",
]

_DISTRIBUTION: Final = "esd"
_SHARE: Final = PurePosixPath("share") / "esd"
_CHECKOUT: Final = Path(__file__).resolve().parent.parent


def _is_checkout(root: Path) -> bool:
    # Not just "is there a folder named systemd beside the package": in site-packages that may
    # be the python-systemd package. A checkout has our pyproject.toml and statecharts/.
    return (root / "pyproject.toml").is_file() and (root / "statecharts").is_dir()


def _from_distribution(name: str) -> Path | None:
    try:
        distribution = importlib.metadata.distribution(_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return None
    wanted = _SHARE / name
    for file in distribution.files or ():
        path = PurePosixPath(str(file))
        # Recorded relative to site-packages: "../../../share/esd/statecharts/order_item.toml".
        parts = [part for part in path.parts if part != ".."]
        if PurePosixPath(*parts).parent == wanted:
            return Path(str(distribution.locate_file(file))).resolve().parent
    return None


def shipped_dir(name: str) -> Path:
    """The folder `name` ("statecharts", "systemd", "examples") of the checkout or the wheel."""
    if _is_checkout(_CHECKOUT):
        return _CHECKOUT / name
    found = _from_distribution(name)
    if found is not None and found.is_dir():
        return found
    fallback = Path(sys.prefix) / _SHARE / name
    if fallback.is_dir():
        return fallback
    raise ShippedFilesMissing(
        f"the shipped folder {name!r} is missing: not in a source checkout, not recorded by "
        f"the installed {_DISTRIBUTION} distribution, not in {fallback} (reinstall esd)"
    )


@dataclasses.dataclass(frozen=True, slots=True)
class InstallFile:
    """One file `esd install-files` writes: where it comes from and where the README's install
    steps put it on the host."""

    folder: str
    name: str
    host_path: str


INSTALL_FILES: Final = (
    InstallFile("systemd", "esd.service", "/etc/systemd/system/esd.service"),
    InstallFile("systemd", "esd.sysusers.conf", "/usr/lib/sysusers.d/esd.conf"),
    InstallFile("systemd", "esd.tmpfiles.conf", "/usr/lib/tmpfiles.d/esd.conf"),
    InstallFile("examples", "esd.toml", "/etc/esd/esd.toml"),
)


def install_files(target: Path, *, overwrite: bool = False) -> list[Path]:
    """Copy the unit, sysusers, tmpfiles and example config into `target`, laid out as in the
    source tree (`systemd/...`, `examples/esd.toml`), so the README's `install` lines run
    unchanged from there. An existing file is never overwritten unless `overwrite`; raises
    FileExistsError naming the first one before anything is written."""
    plan = [
        (shipped_dir(file.folder) / file.name, target / file.folder / file.name)
        for file in INSTALL_FILES
    ]
    if not overwrite:
        for _, destination in plan:
            if destination.exists():
                raise FileExistsError(f"{destination} exists (use --force to overwrite it)")
    written = []
    for source, destination in plan:
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(source.read_bytes())
        written.append(destination)
    return written
