"""A winter campaign: strike after strike over a season, night by night.

Above ``grid``, ``salvo`` and ``stockpile``, below ``compute``: each run plays the
attacker's stock and doctrine, the defender's interceptor inventories, the salvo engine,
damage on the stylised grid, restoration with crews and spares shared across the season,
and demand that follows the daily temperature (docs/campaign.md).
"""

from barrage.campaign.engine import (
    CampaignContext,
    CampaignRuns,
    build_context,
    play_chunk,
    price_played,
    run_chunk,
)
from barrage.campaign.scenario import CampaignScenario, example_campaigns, load_campaign
from barrage.campaign.summary import CampaignSummary, read_summary, summarise_campaign

__all__ = [
    "CampaignContext",
    "CampaignRuns",
    "CampaignScenario",
    "CampaignSummary",
    "build_context",
    "example_campaigns",
    "load_campaign",
    "play_chunk",
    "read_summary",
    "price_played",
    "run_chunk",
    "summarise_campaign",
]
