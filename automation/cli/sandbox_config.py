"""Writes a complete service config file for the sandbox tenant (the ready line's ``config``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from automation.sandbox.seed import SITE_PATH, SP_HOSTNAME, user_email


def _toml_str(value: str) -> str:
    return json.dumps(value)


def config_text(
    info: dict[str, Any], *, state_dir: Path, feed_urls: list[str] | None = None
) -> str:
    """TOML for the service against this sandbox (the client secret included: a test tenant)."""
    feeds = feed_urls if feed_urls is not None else [info["feed_url"]]
    lines = [
        "# Service settings for the local sandbox tenant (generated; safe to edit).",
        f"tenant_id = {_toml_str(info['tenant_id'])}",
        f"client_id = {_toml_str(info['client_id'])}",
        f"client_secret = {_toml_str(info['client_secret'])}",
        f"authority_host = {_toml_str(info['authority_host'])}",
        f"graph_url = {_toml_str(info['graph_url'])}",
        f"ca_bundle = {_toml_str(info['ca_bundle'])}",
        f"state_dir = {_toml_str(str(state_dir))}",
        f"feed_urls = [{', '.join(_toml_str(url) for url in feeds)}]",
        "fetch_report_pages = true",
        "# Only loopback report pages are read in the sandbox (no traffic leaves the machine).",
        'report_hosts = ["127.0.0.1"]',
        'deadline_rule = "statutory"',
        'force_name = "Norfolk Constabulary"',
        'pcc_area = "Norfolk"',
        f"mailbox = {_toml_str(info['mailbox'])}",
        "",
        "[sharepoint]",
        f"hostname = {_toml_str(SP_HOSTNAME)}",
        f"site_path = {_toml_str(SITE_PATH)}",
        f"site_id = {_toml_str(info['site_id'])}",
        'tracker_list = "Section 55 Tracker"',
        'drafts_folder = "Section 55 Responses"',
        "",
        "[planner]",
        f"plan_id = {_toml_str(info['plan_id'])}",
        f"group_id = {_toml_str(info['group_id'])}",
        "",
        "[people]",
        f"response_owner = {_toml_str(user_email('policy_officer'))}",
        f"pcc = {_toml_str(user_email('pcc'))}",
        f"manager = {_toml_str(user_email('chief_executive'))}",
        f"website = {_toml_str(user_email('website'))}",
        'contact_name = "Priya Shah, Policy Officer"',
        'contact_phone = "01603 000000"',
        "",
        "[recipients]",
        f"chief_constable = [{_toml_str(user_email('chief_constable_office'))}]",
        f"panel = [{_toml_str(user_email('panel'))}]",
        f"website = [{_toml_str(user_email('website'))}]",
        'hmicfrs = ["s55responses@hmicfrs.example.org"]',
        "# A stand-in: the Home Office address for s.55 copies is the office's to set.",
        'home_secretary = ["s55.copies@homeoffice.example.org"]',
        "",
    ]
    return "\n".join(lines)


def write_config(path: Path, info: dict[str, Any], *, state_dir: Path) -> Path:
    """Write the config file (mode 0600: it holds the sandbox's client secret)."""
    path.write_text(config_text(info, state_dir=state_dir), encoding="utf-8")
    path.chmod(0o600)
    return path
