"""Streamlit planner dashboard (issue 7)."""
