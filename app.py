"""Songscape dashboard: `streamlit run app.py` (binds to 127.0.0.1, see .streamlit/config.toml)."""

import streamlit as st

from ui import explore_url, state

st.set_page_config(page_title="Songscape", page_icon="🎵", layout="wide")

pages = {
    "Corpus": [
        st.Page("pages/data_page.py", title="Data", icon=":material/library_music:", url_path="data"),
    ],
    "Models": [
        st.Page("pages/train_page.py", title="Train", icon=":material/model_training:", url_path="train"),
        st.Page("pages/latent_page.py", title="Latent", icon=":material/tune:", url_path="latent"),
    ],
    "Results": [
        st.Page("pages/explore_page.py", title="Explore", icon=":material/scatter_plot:", url_path="explore", default=True),
        st.Page("pages/clusters_page.py", title="Clusters", icon=":material/bubble_chart:", url_path="clusters"),
        st.Page("pages/compare_page.py", title="Compare", icon=":material/table_chart:", url_path="compare"),
    ],
}

page = st.navigation(pages)
explore_url.restore()  # a shared link's view, before the sidebar's widgets are drawn
state.sidebar()
state.warm_up_projections()
page.run()
# Page files end in `_page.py` on purpose: a plain `pages/train.py` would be picked up by
# Streamlit's older folder-based routing when the very first request after start is /train,
# and would then run without this entry point (no sidebar, no shared state).
