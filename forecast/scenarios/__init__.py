"""What-if forecasts: a planned livestream or a case trajectory, forecast with and without, never published."""

from __future__ import annotations

from forecast.scenarios.plans import CasePlan, LivestreamPlan, Plan
from forecast.scenarios.run import SCENARIO_MODELS, ScenarioReport, run_scenario

__all__ = ["SCENARIO_MODELS", "CasePlan", "LivestreamPlan", "Plan", "ScenarioReport", "run_scenario"]
