"""Kernel headers for bcc, without changing the system.

bcc compiles XDP programs at run time against kernel headers. On the development machines the
running kernel has no headers package and ``/lib/modules`` does not exist, but Debian's
``linux-headers-<ver>-amd64`` is installed as two trees (``-common`` and ``-amd64``). bcc needs
one tree, so we build a symlink farm (the Python equivalent of ``cp -rs common; cp -rs amd64``)
in the user's cache directory and point ``BCC_KERNEL_SOURCE`` at it, for this process only.
XDP programs use UAPI structs only, so headers of another 6.x kernel compile fine.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from enatool.errors import CapabilityError

USR_SRC = Path("/usr/src")
HEADERS_FIX = "apt-get install linux-headers-amd64 (Debian) or the headers of your kernel"
_FLAVOUR = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), "amd64")
_TREE = re.compile(r"^linux-headers-(?P<ver>\d+\.\d+\.\d+-\d+)-(?P<flavour>.+)$")


@dataclass(frozen=True)
class Headers:
    """Where bcc will find headers and how we got them."""

    path: Path
    how: str  # "modules-build" | "merged-debian" | "env"
    version: str


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "enatool"


def _version_key(ver: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", ver))


def _debian_trees(usr_src: Path = USR_SRC) -> list[tuple[str, Path, Path]]:
    """(version-flavour, common, arch) triples, newest first, preferring the plain flavour."""
    found = []
    if not usr_src.is_dir():
        return found
    for entry in usr_src.iterdir():
        m = _TREE.match(entry.name)
        if not m or m["flavour"] == "common" or not m["flavour"].endswith(_FLAVOUR):
            continue
        common = usr_src / f"linux-headers-{m['ver']}-common"
        if common.is_dir() and entry.is_dir():
            plain = m["flavour"] == _FLAVOUR
            found.append(
                ((plain, _version_key(m["ver"])), f"{m['ver']}-{m['flavour']}", common, entry)
            )
    found.sort(key=lambda t: t[0], reverse=True)
    return [(name, common, arch) for _, name, common, arch in found]


def _symlink_farm(src: Path, dst: Path) -> None:
    """Mirror ``src`` into ``dst``: real directories, files as absolute symlinks; later calls
    overwrite earlier links (that is how the arch tree lands on top of the common tree)."""
    for root, dirs, files in os.walk(src):
        rel = os.path.relpath(root, src)
        out = dst / rel if rel != "." else dst
        out.mkdir(parents=True, exist_ok=True)
        # symlinked directories are not descended by os.walk: link them like files
        links = [d for d in dirs if os.path.islink(os.path.join(root, d))]
        for name in files + links:
            target = os.path.join(root, name)
            link = out / name
            if link.is_symlink() or link.is_file():
                link.unlink()
            elif link.is_dir():
                shutil.rmtree(link)
            os.symlink(target, link)


def merged_tree(name: str, common: Path, arch: Path, cache: Path | None = None) -> Path:
    """Build (once) the merged tree for ``name``; atomic: built beside, then renamed."""
    cache = cache or _cache_root()
    final = cache / f"kernel-src-{name}"
    if final.is_dir():
        return final
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cache / f".kernel-src-{name}.tmp.{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        _symlink_farm(common, tmp)
        _symlink_farm(arch, tmp)
        try:
            os.rename(tmp, final)
        except OSError:
            if not final.is_dir():  # lost a race only if the winner's tree exists
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def find_headers(usr_src: Path = USR_SRC, cache: Path | None = None) -> Headers:
    """Locate (or assemble) a kernel header tree for bcc; raise CapabilityError if none."""
    release = platform.release()
    env = os.environ.get("BCC_KERNEL_SOURCE")
    if env and Path(env, "include").is_dir():
        return Headers(Path(env), "env", release)
    build = Path("/lib/modules", release, "build")
    if (build / "include").is_dir():
        return Headers(build, "modules-build", release)
    trees = _debian_trees(usr_src)
    if trees:
        name, common, arch = trees[0]
        return Headers(merged_tree(name, common, arch, cache), "merged-debian", name)
    raise CapabilityError(
        f"no kernel headers for bcc: /lib/modules/{release}/build is missing and no "
        f"linux-headers-*-{_FLAVOUR} + -common trees are in {usr_src}",
        hint=HEADERS_FIX,
    )


_USED: Headers | None = None


def use_headers() -> Headers:
    """find_headers() once per process and point bcc at the result (process env only)."""
    global _USED
    if _USED is None:
        h = find_headers()
        if h.how != "modules-build":
            os.environ["BCC_KERNEL_SOURCE"] = str(h.path)
        _USED = h
    return _USED


@dataclass(frozen=True)
class CompileResult:
    headers: Headers
    compile_s: float
    load_s: float


_TEST_PROGRAM = b"""
int enatool_probe(struct xdp_md *ctx) { return XDP_PASS; }
"""


def compile_test() -> CompileResult:
    """Compile and verifier-load a minimal XDP program with bcc; raise CapabilityError if
    bcc is missing or fails. Nothing stays loaded."""
    headers = use_headers()
    try:
        from bcc import BPF
    except ImportError as e:
        raise CapabilityError(
            f"bcc is not importable ({e})",
            hint="apt-get install python3-bpfcc libbpfcc and run scripts/setup.sh "
            "(never pip install bcc: that is an unrelated package)",
        ) from None
    t0 = time.monotonic()
    try:
        b = BPF(text=_TEST_PROGRAM)
    except Exception as e:
        raise CapabilityError(
            f"bcc failed to compile a minimal XDP program with headers {headers.path}: {e}",
            hint=HEADERS_FIX,
        ) from None
    t1 = time.monotonic()
    try:
        b.load_func(b"enatool_probe", BPF.XDP)
        t2 = time.monotonic()
    except Exception as e:
        raise CapabilityError(
            f"bcc compiled but the kernel refused the program: {e}", hint="run as root"
        ) from None
    finally:
        b.cleanup()
    return CompileResult(headers, t1 - t0, t2 - t1)
