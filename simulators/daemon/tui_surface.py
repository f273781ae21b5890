"""What the real Codex TUI reads from its daemon before it shows its main screen, served by the mock.

Learnt from the TUI's own traffic against codex app-server 0.169.0 (`tests/fixtures/tui_traffic/`, recorded by
`python -m simulators.tui.sessions`): after `account/read` says someone is signed in it calls `config/read`
(twice, once with `includeLayers`), `configRequirements/read`, `model/list`, `collaborationMode/list`,
`hooks/list`, `skills/list`, `plugin/installed`, `thread/loaded/list` and `account/bedrock/checkGovCloudRequirements`,
and gives up (`Error: config/read failed in TUI`) when one of the first ones fails.

The answers are the real daemon's for a fresh CODEX_HOME: the effective configuration's defaults, the bundled
model catalogue and the system skills (`simulators/daemon/data/*.json`, taken from that recording), with what
depends on this daemon filled in (its home, its ChatGPT base URL, the folders the client asked about).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from simulators.daemon.app_server import AppServer, RequestContext
from simulators.protocol.jsonrpc import invalid_type

DATA = Path(__file__).resolve().parent / "data"
DEFAULT_CHATGPT_BASE_URL = "https://chatgpt.com/backend-api/"
SYSTEM_CONFIG = "/etc/codex/config.toml"
COLLABORATION_MODES = (
    {"name": "Plan", "mode": "plan", "model": None, "reasoning_effort": "medium"},
    {"name": "Default", "mode": "default", "model": None, "reasoning_effort": None},
)


@cache
def _data(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def _sha256(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _cwds(ctx: RequestContext) -> list[str]:
    cwds = ctx.params.get("cwds")
    if cwds is None:
        return []
    if not isinstance(cwds, list) or not all(isinstance(cwd, str) for cwd in cwds):
        raise invalid_type(cwds, "a sequence")
    return cwds


class TuiSurface:
    """The start-up reads of a TUI, for one `AppServer`. `chatgpt_base_url` is None when none is configured."""

    def __init__(
        self, server: AppServer, *, chatgpt_base_url: str | None = None,
        loaded_threads: Callable[[], list[str]] = list,
    ) -> None:
        self.server = server
        self.chatgpt_base_url = chatgpt_base_url
        self.loaded_threads = loaded_threads

    def install(self) -> TuiSurface:
        register = self.server.register_method
        register("config/read", self._config_read)
        register("configRequirements/read", self._config_requirements)
        register("model/list", self._model_list)
        register("collaborationMode/list", self._collaboration_modes)
        register("hooks/list", self._hooks_list)
        register("skills/list", self._skills_list)
        register("plugin/installed", self._plugins_installed)
        register("thread/loaded/list", self._loaded_threads)
        register("account/bedrock/checkGovCloudRequirements", self._gov_cloud)
        register("app/installed", self._apps_installed)  # issue 11 (signed-in start)
        return self

    # -- configuration -----------------------------------------------------------------------------------------

    def _user_layer(self) -> dict[str, Any] | None:
        """The user's config.toml as a layer: what pairsim configured (the ChatGPT base URL), if anything."""
        if self.chatgpt_base_url is None:
            return None
        text = f'chatgpt_base_url = "{self.chatgpt_base_url}"\n'
        return {
            "name": {"type": "user", "file": str(self.server.home / "config.toml"), "profile": None},
            "version": _sha256(text),
            "config": {"chatgpt_base_url": self.chatgpt_base_url},
        }

    async def _config_read(self, ctx: RequestContext) -> dict[str, Any]:
        config = dict(_data("default_config.json"))
        config["chatgpt_base_url"] = self.chatgpt_base_url or DEFAULT_CHATGPT_BASE_URL
        user = self._user_layer()
        origins = {} if user is None else {"chatgpt_base_url": {"name": user["name"], "version": user["version"]}}
        result: dict[str, Any] = {"config": config, "origins": origins}
        if ctx.params.get("includeLayers"):
            system = {"name": {"type": "system", "file": SYSTEM_CONFIG}, "version": _sha256(""), "config": {}}
            result["layers"] = [layer for layer in (user, system) if layer is not None]
        return result

    async def _config_requirements(self, ctx: RequestContext) -> dict[str, Any]:
        return {"supportsIndependentSpeedModes": True, "requirements": None}

    # -- catalogues --------------------------------------------------------------------------------------------

    async def _model_list(self, ctx: RequestContext) -> dict[str, Any]:
        include_hidden = bool(ctx.params.get("includeHidden"))
        models = [m for m in _data("model_catalogue.json") if include_hidden or not m.get("hidden")]
        return {"data": models, "nextCursor": None}

    async def _collaboration_modes(self, ctx: RequestContext) -> dict[str, Any]:
        return {"data": [dict(mode) for mode in COLLABORATION_MODES]}

    async def _hooks_list(self, ctx: RequestContext) -> dict[str, Any]:
        return {"data": [{"cwd": cwd, "hooks": [], "warnings": [], "errors": []} for cwd in _cwds(ctx)]}

    async def _skills_list(self, ctx: RequestContext) -> dict[str, Any]:
        # The system skills the daemon installs in its home on first start, as every folder sees them.
        skills = json.loads(json.dumps(_data("system_skills.json")).replace("{codex_home}", str(self.server.home)))
        return {"data": [{"cwd": cwd, "skills": skills, "errors": []} for cwd in _cwds(ctx)]}

    async def _plugins_installed(self, ctx: RequestContext) -> dict[str, Any]:
        return {"marketplaces": [], "marketplaceLoadErrors": []}

    async def _loaded_threads(self, ctx: RequestContext) -> dict[str, Any]:
        return {"data": self.loaded_threads(), "nextCursor": None}

    async def _apps_installed(self, ctx: RequestContext) -> dict[str, Any]:
        return {"apps": []}  # no connector apps: pairsim's backend serves none

    async def _gov_cloud(self, ctx: RequestContext) -> dict[str, Any]:
        return {"isGovCloud": False, "shouldWarn": False}


def install_tui_surface(
    server: AppServer, *, chatgpt_base_url: str | None = None, loaded_threads: Callable[[], list[str]] = list
) -> TuiSurface:
    return TuiSurface(server, chatgpt_base_url=chatgpt_base_url, loaded_threads=loaded_threads).install()
