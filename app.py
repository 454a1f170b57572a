"""Songscape dashboard: `streamlit run app.py` (binds to 127.0.0.1, see .streamlit/config.toml)."""

import streamlit as st

from ui import state

st.set_page_config(page_title="Songscape", page_icon="🎵", layout="wide")

pages = {
    "Corpus": [
        st.Page("pages/data.py", title="Data", icon=":material/library_music:", url_path="data"),
    ],
    "Models": [
        st.Page("pages/train.py", title="Train", icon=":material/model_training:", url_path="train"),
        st.Page("pages/latent.py", title="Latent", icon=":material/tune:", url_path="latent"),
    ],
    "Results": [
        st.Page("pages/explore.py", title="Explore", icon=":material/scatter_plot:", url_path="explore", default=True),
        st.Page("pages/clusters.py", title="Clusters", icon=":material/bubble_chart:", url_path="clusters"),
        st.Page("pages/compare.py", title="Compare", icon=":material/table_chart:", url_path="compare"),
    ],
}

page = st.navigation(pages)
state.sidebar()
page.run()
