"""How the portal shows the organisations that send mail: their names in the citizen's language
and the services through which they send, from the routing policy (`policies.model`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from gateway.web.i18n import CATALOGUE, DEFAULT_LANG
from policies.model import Organisation


@dataclass(frozen=True)
class OrganisationProfile:
    """An organisation's display names by language (Finnish always) and its services."""

    names: Mapping[str, str]
    services: tuple[str, ...] = field(default=())

    def name(self, lang: str) -> str:
        # A language without a name of its own shows the Finnish one, which always exists.
        return self.names.get(lang) or self.names[DEFAULT_LANG]


def organisation_profiles(organisations: Iterable[Organisation]) -> dict[str, OrganisationProfile]:
    """The portal's view of the policy's organisations, by organisation id."""
    return {
        org.id: OrganisationProfile(
            {"fi": org.name, "sv": org.name_sv, "en": org.name_en}, org.services
        )
        for org in organisations
    }


def service_profile() -> OrganisationProfile:
    """The service itself, sender of welcome messages and event log exports: the site's name."""
    return OrganisationProfile({lang: texts["site_title"] for lang, texts in CATALOGUE.items()})
