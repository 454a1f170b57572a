"""Streamlit helpers shared by the pages: cached access to `core`, the sidebar, figures.

Nothing here computes: every result comes from a `core` call.
"""
