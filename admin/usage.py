"""The usage pages ("Forbrug"): the municipality's calls per system and service per day.

Through `GET /usage` (authz/usage.py), as the logged-in municipality admin
(their municipality's calls; the API narrows it) or operator (the chosen
municipality).  The period is chosen with two dates, both inclusive (the
API's `to` is exclusive: the day after); the default is this month so far.

- /admin/forbrug       a table (the primary, accessible view: day, system, service, calls, and the
                       totals per system and service) and a bar chart of the same numbers: calls per
                       day, stacked by system and service.  The chart is inline SVG drawn on the
                       server (no script, no inline style: the CSP forbids both; SVG presentation
                       attributes are fine), described by a title and pointing to the table.
- /admin/forbrug.csv   the API's rows (per day, system, service and operation) as a CSV download:
                       `text/csv`, UTF-8 with a byte-order mark and `;` between fields, so that a
                       Danish Excel opens it as it is; Danish header row; a cell that would start
                       with = + - @ is prefixed with ' so that a system's name cannot become a formula.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date, timedelta

from flask import Response, render_template, request

from admin import api_client, nav
from admin.access_forms import ACCESS_ROLES, municipality_code, municipality_query, services
from admin.blueprint import bp
from admin.forms import parse_date
from app.bitemporal.periods import copenhagen_today
from authz.policy import admin_page

usage_page = admin_page(*ACCESS_ROLES)
nav.register("Forbrug", "admin.usage", *ACCESS_ROLES, prefix="admin.usage", order=50)

# Colour-blind-safe (Okabe-Ito), each with at least 3:1 contrast against white.
COLOURS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#8a6d00", "#56568f", "#a83232", "#2f6f4f")
CHART = {"width": 720, "height": 240, "left": 56, "bottom": 28, "top": 12}
CSV_HEADER = ("Dato", "Kommunekode", "System", "System-id", "Tjeneste", "Operation", "Kald")


def _period() -> tuple[date, date, dict[str, str]]:
    """(first day, last day, messages) from ?from= and ?to= (both inclusive); default this month so far."""
    today = copenhagen_today()
    errors = {}
    first = parse_date(request.args.get("from")) if request.args.get("from") else today.replace(day=1)
    last = parse_date(request.args.get("to")) if request.args.get("to") else today
    if first is None:
        errors["from"], first = "Skriv en dato som ÅÅÅÅ-MM-DD.", today.replace(day=1)
    if last is None:
        errors["to"], last = "Skriv en dato som ÅÅÅÅ-MM-DD.", today
    if last < first:
        errors["to"], last = "Til-datoen må ikke ligge før fra-datoen.", first
    if (last - first).days > 366:
        errors["to"], last = "Vælg højst et år ad gangen.", first + timedelta(days=366)
    return first, last, errors


def _usage(first: date, last: date) -> dict:
    to = {} if last == date.max else {"to": (last + timedelta(days=1)).isoformat()}  # 9999-12-31: open
    found = api_client.get("/usage", **{"from": first.isoformat(), **to}, **municipality_query())
    return found.body if found.ok else {"rows": [], "totals": [], "total_calls": 0, "truncated": False}


def daily(rows: list[dict]) -> list[dict]:
    """The API's rows summed over operations: [{day, system_id, system_name, service, calls}] by day."""
    sums: dict[tuple, int] = defaultdict(int)
    names = {}
    for row in rows:
        key = (row["day"], row["system_id"], row["service"])
        sums[key] += row["calls"]
        names[row["system_id"]] = row.get("system_name") or row["system_id"]
    return [{"day": d, "system_id": s, "system_name": names[s], "service": svc, "calls": n}
            for (d, s, svc), n in sorted(sums.items(), key=lambda i: (i[0][0], names[i[0][1]].lower(), i[0][2]))]


def chart(first: date, last: date, per_day: list[dict], service_names: dict[str, str]) -> dict:
    """The bar chart's geometry: one bar per day from `first` to `last`, stacked by system and service."""
    series_keys = sorted({(r["system_name"], r["service"]) for r in per_day}, key=lambda k: (k[0].lower(), k[1]))
    series = [{"key": k, "label": f"{k[0]}: {service_names.get(k[1], k[1])}", "colour": COLOURS[i % len(COLOURS)]}
              for i, k in enumerate(series_keys)]
    colour = {s["key"]: s["colour"] for s in series}
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    by_day: dict[str, list[dict]] = defaultdict(list)
    for row in per_day:
        by_day[row["day"]].append(row)
    top = max([sum(r["calls"] for r in by_day[d.isoformat()]) for d in days] + [1])
    scale_max = _nice(top)
    plot_w = CHART["width"] - CHART["left"] - 8
    plot_h = CHART["height"] - CHART["top"] - CHART["bottom"]
    step = plot_w / len(days)
    bars, labels = [], []
    for i, day in enumerate(days):
        x = CHART["left"] + i * step + step * 0.1
        y = CHART["top"] + plot_h
        for row in by_day[day.isoformat()]:
            h = row["calls"] / scale_max * plot_h
            y -= h
            bars.append({"x": round(x, 1), "y": round(y, 1), "w": round(max(step * 0.8, 1), 1), "h": round(h, 1),
                         "colour": colour[(row["system_name"], row["service"])],
                         "title": f"{day.isoformat()}, {row['system_name']}, "
                                  f"{service_names.get(row['service'], row['service'])}: {row['calls']} kald"})
        if len(days) <= 16 or i % max(1, len(days) // 8) == 0:
            labels.append({"x": round(CHART["left"] + i * step + step / 2, 1), "text": f"{day.day}/{day.month}"})
    ticks = [{"y": round(CHART["top"] + plot_h - v / scale_max * plot_h, 1), "value": v}
             for v in (0, scale_max // 2, scale_max)]
    return {**CHART, "bars": bars, "labels": labels, "ticks": ticks, "series": series,
            "axis_y": CHART["top"] + plot_h, "right": CHART["width"] - 8}


def _nice(value: int) -> int:
    """The chart's top: the first of 2, 4, 10, 20, 40, 100, ... at or above `value` (even, so the middle
    tick is a whole number of calls)."""
    magnitude = 1
    while True:
        for factor in (2, 4, 10):
            if factor * magnitude >= value:
                return factor * magnitude
        magnitude *= 10


@bp.route("/forbrug")
@usage_page
def usage():
    """Calls per system and service per day, as a table and a chart, with the CSV download."""
    first, last, errors = _period()
    data = _usage(first, last)
    service_names = {code: s["name"] for code, s in services().items()}
    per_day = daily(data["rows"])
    return render_template("admin/usage/usage.html", first=first, last=last, errors=errors, rows=per_day,
                           totals=data["totals"], total_calls=data["total_calls"], truncated=data["truncated"],
                           chart=chart(first, last, per_day, service_names), service_names=service_names,
                           system_names={r["system_id"]: r["system_name"] for r in per_day},
                           csv_query={"from": first.isoformat(), "to": last.isoformat()}), 422 if errors else 200


def _cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


@bp.route("/forbrug.csv")
@usage_page
def usage_csv():
    """The period's calls per day, system, service and operation as a CSV file."""
    first, last, _errors = _period()
    data = _usage(first, last)
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for row in data["rows"]:
        writer.writerow([_cell(v) for v in (row["day"], row["municipality_code"], row.get("system_name"),
                                            row["system_id"], row["service"], row["operation"], row["calls"])])
    name = f"forbrug-{municipality_code()}-{first.isoformat()}-{last.isoformat()}.csv"
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
