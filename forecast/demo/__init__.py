"""Synthetic demo scenario: seeded sales, master data, signals and the ground truth of planted effects."""

from __future__ import annotations

from forecast.demo.generate import DemoScenario, generate_demo

__all__ = ["DemoScenario", "generate_demo"]
