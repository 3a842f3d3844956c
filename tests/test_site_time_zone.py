"""Date-only columns in the site's time zone (``sharepoint.site_time_zone``, audit F8)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from automation.app import App
from automation.errors import SettingsError
from automation.graph.tracker_list import encode_fields, record_from_item
from automation.jobs.provision import provision
from automation.sandbox.server import Sandbox
from automation.settings import Settings
from tests.service_env import make_settings

SUMMER = dt.date(2023, 7, 20)  # BST: London midnight is 23:00 UTC the day before
WINTER = dt.date(2023, 12, 13)  # GMT: London midnight is midnight UTC


def _in_zone(settings: Settings, zone: str) -> Settings:
    sharepoint = settings.sharepoint.model_copy(update={"site_time_zone": zone})
    return settings.model_copy(update={"sharepoint": sharepoint})


@pytest.mark.parametrize(
    ("zone", "day", "wire"),
    [
        ("Europe/London", SUMMER, "2023-07-19T23:00:00Z"),
        ("Europe/London", WINTER, "2023-12-13T00:00:00Z"),
        ("UTC", SUMMER, "2023-07-20T00:00:00Z"),
        ("Australia/Sydney", WINTER, "2023-12-12T13:00:00Z"),
    ],
)
def test_date_only_values_are_midnight_in_the_site_zone(zone: str, day: dt.date, wire: str) -> None:
    encoded = encode_fields({"PublishedOn": day, "ResponseDeadline": day}, zone=ZoneInfo(zone))
    assert encoded == {"PublishedOn": wire, "ResponseDeadline": wire}
    fields = {"PublicationKey": "k", **encoded}
    record = record_from_item({"id": "1", "fields": fields}, zone=ZoneInfo(zone))
    assert (record.published_on, record.deadline) == (day, day)


def test_a_utc_site_read_as_london_would_be_a_day_early() -> None:
    # Why the setting matters: the same stored instant is another calendar day elsewhere.
    fields = {"PublishedOn": "2023-07-20T00:00:00Z"}
    assert record_from_item({"id": "1", "fields": fields}, zone=ZoneInfo("UTC")).published_on == (
        SUMMER
    )
    fields = {"PublishedOn": "2023-07-19T23:00:00Z"}
    assert record_from_item({"id": "1", "fields": fields}, zone=ZoneInfo("UTC")).published_on == (
        dt.date(2023, 7, 19)
    )


def test_default_is_london_and_a_bad_zone_names_the_setting(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    settings = make_settings(sandbox, tmp_path / "state")
    assert settings.sharepoint.site_time_zone == "Europe/London"
    assert settings.sharepoint.site_zone == ZoneInfo("Europe/London")
    with pytest.raises(SettingsError) as caught:
        make_settings(sandbox, tmp_path / "bad", sharepoint={"site_time_zone": "GMT Standard"})
    [problem] = caught.value.problems
    assert "sharepoint.site_time_zone" in problem
    assert "AUTOMATION_SHAREPOINT__SITE_TIME_ZONE" in problem


def _stored(sandbox: Sandbox, app: App, item_id: str) -> Any:
    ws = app.resolve()
    item = app.client.get_json(
        f"/sites/{ws.site_id}/lists/{ws.list_id}/items/{item_id}",
        params={"$expand": "fields($select=PublishedOn,ResponseDeadline)"},
    )
    return item["fields"]["PublishedOn"], item["fields"]["ResponseDeadline"]


def test_site_zone_changes_the_stored_instant_not_the_date(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    london = make_settings(sandbox, tmp_path / "state")
    provision(App(london))
    seen = {}
    for zone in ("Europe/London", "UTC"):
        app = App(_in_zone(london, zone))
        key = f"probe-{zone}"
        fields = {
            "Title": key,
            "PublicationKey": key,
            "PublishedOn": SUMMER,
            "ResponseDeadline": SUMMER + dt.timedelta(days=55),
        }
        record, created = app.tracker.create_or_find(fields)
        assert created
        seen[zone] = _stored(sandbox, app, record.item_id)
        found = app.tracker.find(key)
        assert found is not None
        assert found.published_on == SUMMER
        assert found.deadline == SUMMER + dt.timedelta(days=55)
    assert seen["Europe/London"] == ("2023-07-19T23:00:00Z", "2023-09-12T23:00:00Z")
    assert seen["UTC"] == ("2023-07-20T00:00:00Z", "2023-09-13T00:00:00Z")
