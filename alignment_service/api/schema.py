"""drf-spectacular extensions for the kernel's own fields (loaded by the root URLconf)."""

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerFieldExtension


class OrgScopedRelatedFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "alignment_service.api.fields.OrgScopedRelatedField"

    def map_serializer_field(self, auto_schema: Any, direction: str) -> Any:
        # The referenced model's key type; not `readOnly` (as its own primary key is), or the
        # reference would vanish from request bodies.
        schema = dict(auto_schema._map_model_field(self.target.model._meta.pk, direction))
        schema.pop("readOnly", None)
        return schema


class ConstFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "alignment_service.api.fields.ConstField"

    def map_serializer_field(self, auto_schema: Any, direction: str) -> Any:
        return {"type": "string", "const": self.target.value}


class JSONObjectFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "alignment_service.api.fields.JSONObjectField"

    def map_serializer_field(self, auto_schema: Any, direction: str) -> Any:
        return {"type": "object", "additionalProperties": True}
