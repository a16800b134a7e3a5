"""The planners' Streamlit dashboard: sign-in (`auth`), pages (`views`), cached reads by page (`data`)."""
