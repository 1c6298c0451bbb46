"""Records, listing frames and ``fields[...]`` come from one field table per resource in models.py."""

from __future__ import annotations

import dataclasses
import datetime as dt

from asc_nb import frames, models, records
from asc_nb.models import Attribute, Granularity, Resource


def test_every_record_and_frame_follows_its_table() -> None:
    for resource in (models.APPS, models.REQUESTS, models.REPORTS, models.INSTANCES, models.SEGMENTS):
        cls = records.RECORDS[resource.type]
        assert tuple(f.name for f in dataclasses.fields(cls) if f.name != "raw") == resource.columns
        assert tuple(frames.schema(cls)) == resource.columns
    assert models.APPS.sparse_fields() == {"fields[apps]": "name,bundleId,sku,primaryLocale"}


def test_a_new_attribute_is_one_row() -> None:
    toy = Resource(
        "toys",
        (
            Attribute("displayName"),
            Attribute("releasedOn", "date"),
            Attribute("pieces", "integer"),
            Attribute("granularity", "enum", Granularity),
        ),
        parent="box_id",
    )
    Toy = records._record_class("Toy", toy, "A toy.")
    rec = Toy.from_resource(
        {
            "id": "7",
            "type": "toys",
            "attributes": {
                "displayName": "Kite",
                "releasedOn": "2026-03-01",
                "pieces": "12",
                "granularity": "WEEKLY",
            },
        },
        "box-1",
    )
    assert (rec.id, rec.display_name, rec.released_on, rec.pieces, rec.granularity, rec.box_id) == (
        "7",
        "Kite",
        dt.date(2026, 3, 1),
        12,
        Granularity.WEEKLY,
        "box-1",
    )
    schema = frames._schema_of(toy)
    assert list(schema) == ["id", "display_name", "released_on", "pieces", "granularity", "box_id"]
    assert (schema["released_on"], schema["pieces"], list(schema["granularity"].categories)) == (
        "datetime64[ns]",
        "Int64",
        ["DAILY", "WEEKLY", "MONTHLY"],
    )
    assert toy.sparse_fields() == {"fields[toys]": "displayName,releasedOn,pieces,granularity"}
