"""Early-Exit Explorer: the library behind the app (no Streamlit in here)."""
