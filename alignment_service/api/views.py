"""The one way to scope by organization.

`OrgScopedViewSet` resolves the caller's access from the `{org}` path segment before any
handler runs (404 for outsiders, never 403), checks the role or API-key scope that each action
declares, and builds every queryset from that organization. Subclasses say what they serve in
`get_org_queryset(org)`; `get_queryset` is final and filters that queryset by organization
itself, so a selector that forgets the filter cannot leak. A viewset whose model has no
`organization` field says why in `unscoped_reason`, or its queryset is refused.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

from django.core.exceptions import ImproperlyConfigured, ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model, QuerySet
from rest_framework import exceptions, permissions, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from alignment_service.access import Access, Role, Scope
from alignment_service.api.access import resolve_access
from alignment_service.errors import PreconditionFailed

if TYPE_CHECKING:
    from teams.models import Organization


class OrgScopedViewSet(viewsets.GenericViewSet):
    model: ClassVar[type[Model]]
    #: action -> the least role a member needs; an action missing here is refused.
    required_roles: ClassVar[dict[str, Role]] = {}
    #: action -> the scopes that let an API key do it (any one suffices). Reads (GET, HEAD,
    #: OPTIONS) that a viewer may make default to `read`: a read key reads what a viewer reads,
    #: so not what needs a higher role (API keys, webhooks, invitations). Every other action is
    #: closed to keys unless declared here.
    required_scopes: ClassVar[dict[str, tuple[Scope, ...]]] = {}

    #: Why the model has no `organization` field to filter by (empty: it must have one).
    unscoped_reason: ClassVar[str] = ""

    access: Access

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "get_queryset" in cls.__dict__:
            raise TypeError(f"{cls.__name__} must define get_org_queryset(), not get_queryset().")

    @property
    def org(self) -> "Organization":
        return self.access.org

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self.access = resolve_access(request, kwargs["org"])
        if self.action is None:
            raise exceptions.MethodNotAllowed(request.method or "")
        self.check_access(self.action)

    def check_access(self, action: str) -> None:
        if self.access.is_api_key:
            safe = self.request.method in permissions.SAFE_METHODS
            viewer_read = safe and self.required_roles.get(action, Role.VIEWER) == Role.VIEWER
            default = (Scope.READ,) if viewer_read else ()
            if not any(self.access.has_scope(scope) for scope in self.required_scopes.get(action, default)):
                raise exceptions.PermissionDenied("This API key lacks the scope for this action.")
            return
        minimal = self.required_roles.get(action, Role.VIEWER if action == "metadata" else None)
        if minimal is None:
            raise ImproperlyConfigured(f"{type(self).__name__} declares no role for action {action!r}.")
        if not self.access.has_role(minimal):
            raise exceptions.PermissionDenied(f"This action needs the {minimal.label.lower()} role.")

    def get_queryset(self) -> QuerySet[Any]:
        if getattr(self, "swagger_fake_view", False):
            return self.model._default_manager.none()
        return self.scoped(self.get_org_queryset(self.org))

    def get_org_queryset(self, org: "Organization") -> QuerySet[Any]:
        raise NotImplementedError

    def scoped(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        """`queryset` filtered to the caller's organization, whatever its selector did."""
        if has_organization(queryset.model):
            return queryset.filter(organization=self.org)
        if not self.unscoped_reason:
            raise ImproperlyConfigured(
                f"{type(self).__name__} serves {queryset.model.__name__}, which has no organization field: "
                "name why it is safe in unscoped_reason."
            )
        return queryset

    def object_in_org(self, model: type[Model], pk: Any) -> Any:
        """An object named in the URL outside the viewset's own lookup (e.g. a parent), or 404."""
        with missing_is_404():
            return model._default_manager.get(organization=self.org, pk=pk)

    def get_object(self) -> Any:
        with missing_is_404():
            return super().get_object()

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        if hasattr(self, "access"):
            context["access"] = self.access
            context["org"] = self.org
        return context


def has_organization(model: type[Model]) -> bool:
    return any(field.name == "organization" for field in model._meta.get_fields())


@contextmanager
def missing_is_404() -> Iterator[None]:
    """A lookup by an id from the URL that finds nothing, or cannot be an id at all, is a 404."""
    try:
        yield
    except (ObjectDoesNotExist, DjangoValidationError, ValueError):
        raise exceptions.NotFound() from None


def if_match_version(request: Request) -> int | None:
    """The version named by an `If-Match: "<version>"` header, if any (412 when unreadable)."""
    header = request.headers.get("If-Match", "").strip()
    if not header or header == "*":
        return None
    try:
        return int(header.removeprefix("W/").strip('"'))
    except ValueError:
        raise PreconditionFailed('If-Match must name a version, e.g. If-Match: "3".') from None


READ_AS_VIEWER_WRITE_AS_ADMIN: dict[str, Role] = {
    "list": Role.VIEWER,
    "retrieve": Role.VIEWER,
    "create": Role.ADMIN,
    "update": Role.ADMIN,
    "partial_update": Role.ADMIN,
    "destroy": Role.ADMIN,
}

READ_AS_VIEWER_WRITE_AS_MEMBER: dict[str, Role] = {
    "list": Role.VIEWER,
    "retrieve": Role.VIEWER,
    "create": Role.MEMBER,
    "update": Role.MEMBER,
    "partial_update": Role.MEMBER,
    "destroy": Role.MEMBER,
}


READ_AS_VIEWER_CREATE_AS_MEMBER: dict[str, Role] = {"list": Role.VIEWER, "retrieve": Role.VIEWER, "create": Role.MEMBER}


def with_etag(response: Response, version: int) -> Response:
    response["ETag"] = f'"{version}"'
    return response


# `create` through the app's service: validate `write_serializer_class`, call
# `create_service(access=…, **create_kwargs(validated))`, render the output serializer.
# (Comments, not docstrings, on view mixins: drf-spectacular would publish them as the
# description of every operation of a view without a docstring of its own.)
class ServiceCreateMixin:
    write_serializer_class: type[Any]
    create_service: Any

    def create(self: Any, request: Request, org: str, **kwargs: Any) -> Response:
        data = self.write_serializer_class(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        obj = type(self).create_service(access=self.access, **self.create_kwargs(dict(data.validated_data)))
        return Response(self.render(obj), status=status.HTTP_201_CREATED)

    def create_kwargs(self: Any, validated: dict[str, Any]) -> dict[str, Any]:
        return validated

    def render(self: Any, obj: Any) -> Any:
        return self.get_serializer(self.get_queryset().get(pk=obj.pk)).data


# `create`, `update` and `destroy` through the app's services; updates of versioned objects
# answer with their `ETag`.
class ServiceWriteMixin(ServiceCreateMixin):
    update_service: Any
    delete_service: Any
    object_kwarg: str

    def update(self: Any, request: Request, org: str, pk: str, partial: bool = False) -> Response:
        obj = self.get_object()
        data = self.write_serializer_class(data=request.data, partial=partial, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        obj = type(self).update_service(access=self.access, **{self.object_kwarg: obj}, **self.update_kwargs(data))
        response = Response(self.render(obj))
        return with_etag(response, obj.version) if hasattr(obj, "version") else response

    def partial_update(self: Any, request: Request, org: str, pk: str) -> Response:
        return self.update(request, org, pk, partial=True)

    def perform_destroy(self: Any, instance: Any) -> None:
        type(self).delete_service(access=self.access, **{self.object_kwarg: instance})

    def update_kwargs(self: Any, data: Any) -> dict[str, Any]:
        return dict(data.validated_data)
