"""Donation service app factory."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI

from donation.adapters.gateways import build_gateways
from donation.config import DonationSettings
from donation.entrypoints import web
from donation.entrypoints.api import (
    accounts,
    auth,
    combined_receipts,
    disbursements,
    donations,
    donors,
    evaluation,
    follow_up_visits,
    follow_ups,
    giving,
    incidents,
    organisations,
    projects,
    public,
    recipients,
    reconciliation,
    refunds,
    reports,
)
from donation.entrypoints.consumers import build_consumers
from donation.service_layer.online_giving import Gateways
from donation.service_layer.organisations import announce_unannounced_organisations
from donation.service_layer.payment_checks import run_sweeper
from donation.service_layer.projects import announce_unannounced_projects
from donation.service_layer.reconciliation import run_nightly
from donation.service_layer.staff import seed_demo_staff
from shared.auth import TokenIssuer
from shared.runtime import ServiceRuntime, create_service_app, supervised

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def create_app(settings: DonationSettings | None = None) -> FastAPI:
    settings = settings or DonationSettings()

    async def on_startup(runtime: ServiceRuntime) -> None:
        runtime.extras["token_issuer"] = TokenIssuer(
            settings.jwt_private_key_file,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            ttl=timedelta(minutes=settings.token_ttl_minutes),
        )
        if settings.seed_demo_staff:
            await seed_demo_staff(
                runtime.session_factory, settings.demo_password.get_secret_value()
            )
        async with runtime.unit_of_work() as uow:
            if await announce_unannounced_projects(uow):
                await uow.commit()
        async with runtime.unit_of_work() as uow:
            if await announce_unannounced_organisations(uow):
                await uow.commit()
        configured = build_gateways(settings, runtime.http)
        if configured:
            gateways = Gateways(configured)
            runtime.extras["gateways"] = gateways
            if settings.run_payment_sweeper:
                runtime.tasks.append(
                    supervised(lambda: run_sweeper(runtime, gateways), "payment-sweeper")
                )
            if settings.run_reconciliation:
                runtime.tasks.append(
                    supervised(lambda: run_nightly(runtime, gateways), "reconciliation")
                )

    return create_service_app(
        settings,
        title="Sunshine 阳光红会 · 捐赠服务 Donation service",
        description="Every gift, money or goods, from receipt to use; the donor's own timeline.",
        routers=[
            auth.router,
            donations.router,
            donors.router,
            # these three in this order: the OpenAPI paths keep the order they had as one router
            projects.router,
            disbursements.router,
            follow_ups.router,
            follow_up_visits.router,
            public.router,
            giving.router,
            combined_receipts.router,
            reports.router,
            evaluation.router,
            organisations.router,
            incidents.router,
            recipients.router,
            accounts.router,
            refunds.router,
            reconciliation.router,
            web.router,
        ],
        consumers=build_consumers,
        on_startup=on_startup,
    )
