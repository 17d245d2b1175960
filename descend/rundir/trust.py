"""Code from a run directory is imported only when this user signed it (as Jupyter trusts notebooks).

At train time the model file's copy in the run is hashed (sha256) and signed with HMAC-SHA256 under a per-user
key kept outside every run (created with mode 0600 on first use); the signature goes into the run's
trust.json. `evaluate`, `--resume`, `lr-find --run`, `predict` and `export` import the file only when its
signature verifies; otherwise they stop and name the file, its hash and `--trust-code`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from descend.rundir import codec, layout, safe
from descend.rundir.errors import RunDirError, UntrustedCode

KEY_ENV = "DESCEND_TRUST_KEY"  # a key file path (tests, or several users sharing a home)
_PURPOSE = b"descend-code-v1\0"


def key_path() -> Path:
    """Where this user's key lives: $DESCEND_TRUST_KEY, else $XDG_CONFIG_HOME/descend/trust.key (~/.config)."""
    if os.environ.get(KEY_ENV):
        return Path(os.environ[KEY_ENV])
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "descend" / "trust.key"


def _key(create: bool) -> bytes | None:
    path = key_path()
    if not path.exists() and create:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            pass
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_hex(32).encode() + b"\n")
    try:
        key = path.read_bytes().strip()
    except OSError:
        return None
    return key or None


def sha256(path: str | os.PathLike) -> str:
    """The hex sha256 of a regular file (never through a symlink)."""
    return hashlib.sha256(safe.read_bytes(path)).hexdigest()


def _sign(key: bytes, digest: str) -> str:
    return hmac.new(key, _PURPOSE + digest.encode(), hashlib.sha256).hexdigest()


def sign(run_dir: str | os.PathLike, file: str | os.PathLike) -> dict:
    """Record `file` (a code file in the run) as trusted by this user; returns the entry written."""
    key = _key(create=True)
    if key is None:
        raise RunDirError(f"{key_path()}: cannot read or create the trust key")
    digest = sha256(file)
    entries = _entries(run_dir)
    entry = {"file": Path(file).name, "sha256": digest, "hmac": _sign(key, digest)}
    entries = [e for e in entries if e.get("file") != entry["file"]] + [entry]
    safe.write_text(run_dir, layout.SIGNATURES, text=codec.dumps({"signatures": entries}, indent=2) + "\n")
    return entry


def _entries(run_dir: str | os.PathLike) -> list[dict]:
    path = Path(run_dir) / layout.SIGNATURES
    if not os.path.lexists(path):
        return []
    try:
        body = codec.loads(safe.read_text(path, 1 << 20), str(path))
    except RunDirError:
        return []  # an unreadable signature file trusts nothing
    items = body.get("signatures") if isinstance(body, dict) else None
    return [e for e in items if isinstance(e, dict)] if isinstance(items, list) else []


def verified(run_dir: str | os.PathLike, file: str | os.PathLike) -> tuple[bool, str]:
    """(whether this user signed the current bytes of `file` for this run, the file's sha256)."""
    digest = sha256(file)
    key = _key(create=False)
    if key is None:
        return False, digest
    expected = _sign(key, digest)
    ok = any(isinstance(e.get("hmac"), str) and hmac.compare_digest(e["hmac"], expected)
             for e in _entries(run_dir))
    return ok, digest


def require(run_dir: str | os.PathLike, file: str | os.PathLike, trust_code: bool = False) -> None:
    """Allow importing `file` for the run at `run_dir`: signed by this user, or `trust_code`; else
    UntrustedCode naming the file, its sha256 and --trust-code."""
    if not os.path.lexists(file):
        raise RunDirError(f"{file}: the run's model file does not exist")
    ok, digest = verified(run_dir, file)
    if ok or trust_code:
        return
    raise UntrustedCode(f"{file} (sha256 {digest}) is Python code that this run would import, and it was not "
                        f"signed by you when the run was trained here; read it, then pass --trust-code to "
                        f"run it")
