"""The industries a business can name (``GET /industries``): a fixed list.

Kinde keeps a fixed list of industries, each with a key (lower-case words joined
by ``_``) and a display name, and the business settings refer to one by key. This
is our list in that form; keys are stable, names are for people.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Industry:
    key: str
    name: str


INDUSTRIES: tuple[Industry, ...] = tuple(
    Industry(key, name)
    for key, name in (
        ("accounting", "Accounting"),
        ("administration_office_support", "Administration & Office Support"),
        ("advertising_arts_media", "Advertising, Arts & Media"),
        ("agriculture_fishing_forestry", "Agriculture, Fishing & Forestry"),
        ("banking_financial_services", "Banking & Financial Services"),
        ("call_centre_customer_service", "Call Centre & Customer Service"),
        ("community_services_development", "Community Services & Development"),
        ("construction", "Construction"),
        ("consulting_strategy", "Consulting & Strategy"),
        ("design_architecture", "Design & Architecture"),
        ("education_training", "Education & Training"),
        ("energy_utilities", "Energy & Utilities"),
        ("engineering", "Engineering"),
        ("government_defence", "Government & Defence"),
        ("healthcare_medical", "Healthcare & Medical"),
        ("hospitality_tourism", "Hospitality & Tourism"),
        ("human_resources_recruitment", "Human Resources & Recruitment"),
        ("information_communication_technology", "Information & Communication Technology"),
        ("insurance", "Insurance"),
        ("legal", "Legal"),
        ("manufacturing", "Manufacturing"),
        ("marketing_communications", "Marketing & Communications"),
        ("mining_resources", "Mining & Resources"),
        ("non_profit", "Non-profit & Charities"),
        ("real_estate_property", "Real Estate & Property"),
        ("retail_consumer_products", "Retail & Consumer Products"),
        ("sales", "Sales"),
        ("science_research", "Science & Research"),
        ("self_employment", "Self Employment"),
        ("sport_recreation", "Sport & Recreation"),
        ("trades_services", "Trades & Services"),
        ("transport_logistics", "Transport & Logistics"),
    )
)
