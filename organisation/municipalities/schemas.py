"""Request and response shapes of the municipality registry."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate

from app.identifiers import MUNICIPALITY_CODE, is_valid_cvr
from app.paging import PageArgs, PageSchema

REGIONS = ("Region Hovedstaden", "Region Sjælland", "Region Syddanmark", "Region Midtjylland",
           "Region Nordjylland")


def _cvr(value: str) -> None:
    if not is_valid_cvr(value):
        raise ValidationError("Must be a CVR number: 8 digits passing the modulus-11 check.")


class MunicipalitySchema(Schema):
    code = fields.Integer(required=True, validate=MUNICIPALITY_CODE,
                          metadata={"description": "Kommunekode (3 digits), e.g. 751 for Aarhus.",
                                    "example": 751})
    cvr = fields.String(required=True, validate=_cvr,
                        metadata={"description": "The municipality's CVR number.", "example": "55133018"})
    name = fields.String(required=True, validate=validate.Length(min=1, max=100),
                         metadata={"description": "Name without the word 'Kommune'.", "example": "Aarhus"})
    region = fields.String(required=True, validate=validate.OneOf(REGIONS),
                           metadata={"description": "One of the five regions.", "example": "Region Midtjylland"})
    citizens = fields.Integer(required=True, validate=validate.Range(min=0, max=100_000_000),
                              metadata={"description": "Number of citizens.", "example": 367095})


class MunicipalityWriteSchema(MunicipalitySchema):
    """The body of a PUT: the code comes from the URL."""

    class Meta:
        exclude = ("code",)


class MunicipalityListArgs(PageArgs):
    q = fields.String(validate=validate.Length(min=1, max=200),
                      metadata={"description": "Free text: name or region; prefixes match, æ/ø/å fold to ae/oe/aa."})
    region = fields.String(validate=validate.OneOf(REGIONS), metadata={"description": "Only this region."})


class MunicipalityPageSchema(PageSchema):
    items = fields.List(fields.Nested(MunicipalitySchema))
