"""The site registry (YAML): departments, their sites and feeds, the bus fleet, days added to the holiday calendar.
Pure."""

from citywatch.holiday_calendar import CalendarGapError
from citywatch.site_registry.loader import (
    RegistryError,
    RegistryProblem,
    load_registry,
    load_registry_compact,
    registry_from_data,
)
from citywatch.site_registry.model import (
    AirStation,
    AnySite,
    Area,
    BusRoute,
    Department,
    Registry,
    UnknownSiteError,
    Vehicle,
    WastePlant,
    WaterSection,
)

__all__ = [
    "AirStation",
    "AnySite",
    "Area",
    "BusRoute",
    "CalendarGapError",
    "Department",
    "Registry",
    "RegistryError",
    "RegistryProblem",
    "UnknownSiteError",
    "Vehicle",
    "WastePlant",
    "WaterSection",
    "load_registry",
    "load_registry_compact",
    "registry_from_data",
]
