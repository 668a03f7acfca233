"""/v1/webhooks: subscriptions to the change feed (write scope for every method but GET).

The secret is shown when a subscription is created, and never again: receivers verify the
Standard Webhooks signature (`webhook-id`, `webhook-timestamp`, `webhook-signature`) with it.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from application.webhooks import URL_MAX, SubscriptionNotFound, TargetRefused
from domain.events import EventType
from infrastructure.container import Container
from interfaces.http.exact_json import ExactJsonRoute
from interfaces.http.openapi import problems
from interfaces.http.problems import problem_response
from interfaces.http.request_context import request_id_of
from interfaces.http.responses import json_response
from interfaces.webhooks_json import present_subscription


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        max_length=URL_MAX,
        pattern=(
            r"^https?://[A-Za-z0-9.-]+"
            r"(:([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?"
            r"(/[!-~]*)?$"
        ),
        description="Where events are POSTed (http or https).",
    )
    event_types: list[EventType] = Field(
        default_factory=list, description="Only these types (none: every type)."
    )
    secret: str | None = Field(
        default=None,
        pattern=r"^whsec_([A-Za-z0-9+/]{4}){8,16}$",
        description="whsec_ and 24 to 48 bytes in base64 (default: a new random one).",
    )


class SubscriptionOut(BaseModel):
    id: UUID
    url: str
    event_types: list[EventType]
    active: bool = Field(description="False once the target answered 410 Gone.")
    created_at: datetime


class SubscriptionCreated(SubscriptionOut):
    secret: str = Field(description="Shown only now: verify signatures with it.")


class SubscriptionList(BaseModel):
    items: list[SubscriptionOut]


def webhooks_router(container: Container) -> APIRouter:
    router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"], route_class=ExactJsonRoute)
    webhooks = container.manage_webhooks()

    @router.post(
        "",
        status_code=status.HTTP_201_CREATED,
        operation_id="createWebhook",
        summary="Subscribe a URL to change-feed events",
        response_model=SubscriptionCreated,
        responses=problems(401, 403, 413, 415, 422),
    )
    async def create_webhook(request: Request, body: SubscriptionCreate) -> Response:
        try:
            subscription = await webhooks.add(
                body.url, [t.value for t in body.event_types], body.secret
            )
        except TargetRefused as refused:
            return problem_response(
                422,
                str(refused),
                request_id=request_id_of(request),
                slug="validation",
                errors=[{"pointer": "/url", "detail": str(refused)}],
            )
        return json_response(
            present_subscription(subscription, secret=True),
            status=201,
            headers={"Location": f"/v1/webhooks/{subscription.id}"},
        )

    @router.get(
        "",
        operation_id="listWebhooks",
        summary="List webhook subscriptions",
        response_model=SubscriptionList,
        responses=problems(401),
    )
    async def list_webhooks() -> Response:
        subscriptions = await webhooks.list()
        return json_response({"items": [present_subscription(s) for s in subscriptions]})

    @router.delete(
        "/{subscription_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        operation_id="deleteWebhook",
        summary="Remove a subscription (its pending deliveries are dropped)",
        response_class=Response,
        responses=problems(401, 403, 404, 422),
    )
    async def delete_webhook(request: Request, subscription_id: UUID) -> Response:
        try:
            await webhooks.remove(subscription_id)
        except SubscriptionNotFound as missing:
            return problem_response(
                404, str(missing), request_id=request_id_of(request), slug="webhook-not-found"
            )
        return Response(status_code=204)

    return router
