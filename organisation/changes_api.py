"""GET /api/v1/organisation/changes?date=YYYY-MM-DD: what changes in the organisation on that day.

The objects (units, users, functions, IT systems) whose facts take effect or
cease on the day, as registered now (organisation/changes.py), for the
caller's municipality: the admin web's "Hvad ændrer sig den dato" page, and a
feeder's or an HR team's check of a planned reorganisation.  Read access as
for every Organisation read; users' names follow organisation/personal.py
(left out and named in `omitted` unless the caller may see them, and
access-logged when shown).
"""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from app.db import get_conn
from organisation import schemas as s
from organisation.api import READ, blp, scope
from organisation.changes import changes_on
from organisation.personal import NAME, Disclosure

MAX_OBJECTS = 5000


class ChangesArgs(s.ScopeArgs):
    date = fields.Date(required=True, metadata={"description": "The day (Danish calendar day)."})
    limit = fields.Integer(load_default=1000, validate=validate.Range(min=1, max=MAX_OBJECTS),
                           metadata={"description": f"Most objects answered (1-{MAX_OBJECTS}); `truncated` "
                                                    "says when more change."})


class FieldChangeSchema(Schema):
    ended = fields.List(fields.Raw(), metadata={"description": "Values that cease at the start of the day."})
    started = fields.List(fields.Raw(), metadata={"description": "Values that take effect at the start of the "
                                                                 "day."})
    omitted = fields.Boolean(metadata={"description": "True: personal data (a user's name) the caller may not "
                                                      "see; the values are null."})


class ChangedObjectSchema(Schema):
    kind = fields.String(metadata={"description": "unit, user, function or it_system."})
    uuid = fields.String()
    change = fields.String(metadata={"description": "created (its existence starts that day), ended (it stops) "
                                                    "or changed."})
    summary = fields.Dict(metadata={"description": "user_key, name, ... as valid that day (else as last valid); "
                                                   "a user's name follows the personal-data rule."})
    changes = fields.Dict(keys=fields.String(), values=fields.Nested(FieldChangeSchema), attribute="fields",
                          data_key="fields",
                          metadata={"description": "Per field, the values ending and starting that day."})
    units = fields.List(fields.Nested(s.UnitSummarySchema),
                        metadata={"description": "Functions only: the units it concerns."})
    users = fields.List(fields.Nested(s.UserSummarySchema),
                        metadata={"description": "Functions only: the users it concerns (names follow the "
                                                 "personal-data rule)."})


class ChangesSchema(Schema):
    date = fields.Date()
    items = fields.List(fields.Nested(ChangedObjectSchema), metadata={"description": "By kind, then UUID."})
    truncated = fields.Boolean(metadata={"description": "More objects change that day than `limit`."})


@blp.route("/changes")
class Changes(MethodView):
    @READ
    @blp.arguments(ChangesArgs, location="query")
    @blp.response(200, ChangesSchema)
    def get(self, args):
        """What changes on a day: every unit, user, function and IT system of the municipality with a
        value that takes effect or ceases that day (as registered now), with the values per field.
        Planned changes (a day to come) and past ones (a day that has been) alike."""
        items, more = changes_on(get_conn(), scope(args), args["date"], limit=args["limit"])
        disclosure = Disclosure("organisation.changes")
        for item in items:
            if item["kind"] == "function":
                item["users"] = [disclosure.user(u) for u in item["users"]]
            if item["kind"] != "user":
                continue
            item["summary"] = disclosure.user(item["summary"])
            if NAME in item["fields"]:
                if disclosure.vis.name:
                    disclosure.persons.append(f"urn:uuid:{item['summary'].get('person') or item['uuid']}")
                else:
                    ended, started = item["fields"][NAME]["ended"], item["fields"][NAME]["started"]
                    item["fields"][NAME] = {"ended": [None] * len(ended), "started": [None] * len(started),
                                            "omitted": True}
        disclosure.record()
        return {"date": args["date"], "items": items, "truncated": more}
