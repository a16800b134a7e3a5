"""The dashboard's pages (scripts run by `st.navigation`)."""
