"""Small synthetic record files for tests: the real header and hand-written rows."""

from __future__ import annotations

import csv
from pathlib import Path

HEADER = (
    "time_start,time_end,model,launch_place,target,target_main,launched,destroyed,"
    "not_reach_goal,still_attacking,border_crossing,is_shahed,num_hit_location,"
    "num_fall_fragment_location,carrier,turbojet,turbojet_destroyed,affected region,"
    "destroyed_details,launched_details,launch_place_details,source"
).split(",")


def row(time_start, time_end, model, launched, destroyed, source="kpszsu/posts/a", **extra):
    r = dict.fromkeys(HEADER, "")
    r.update(
        time_start=time_start,
        time_end=time_end,
        model=model,
        launched=str(launched),
        destroyed=str(destroyed),
        source=source,
    )
    r.update({k.replace("_region", " region"): v for k, v in extra.items()})
    return r


def write_record(path: Path, rows: list[dict], header: list[str] | None = None) -> Path:
    header = header or HEADER
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=header, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return path
