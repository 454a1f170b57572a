"""Songscape dashboard: `streamlit run app.py` (binds to 127.0.0.1, see .streamlit/config.toml)."""


def main() -> None:
    import os

    from core import config

    # numba reads its cache folder from the environment when it loads (librosa, UMAP and the neighbour graph
    # compile kernels into it), so it is set here, before anything imports numba, and not by the library:
    # compiled kernels then outlive the server (and its worker processes inherit the setting), unless the
    # operator chose a folder (scripts/_env.sh sets the same one).
    if "NUMBA_CACHE_DIR" not in os.environ and (folder := config.numba_cache_dir()) is not None:
        os.environ["NUMBA_CACHE_DIR"] = str(folder)

    import streamlit as st
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    from ui import explore_url, sidebar, warmup_job

    st.set_page_config(page_title="Songscape", page_icon="🎵", layout="wide")

    # Explore opens first: it is the default page, served at "/". Streamlit serves a default page
    # ONLY at "/", so a link to /explore would find no page of that name, show "Page not found" and
    # leave the page inert until the dialog is closed. A session opened at /explore therefore
    # registers Explore under its own path (Data, the first page, then takes "/"). Decided once per
    # session, so the pages and their URLs never change under a session.
    if "explore_first" not in st.session_state:
        ctx = get_script_run_ctx()
        opened_at = (ctx.pages_manager.intended_page_name or "") if ctx is not None else ""
        st.session_state["explore_first"] = opened_at.strip("/") != "explore"
    explore_first = st.session_state["explore_first"]

    pages = {
        "Corpus": [
            st.Page("views/data_page.py", title="Data", icon=":material/library_music:", url_path="data"),
        ],
        "Models": [
            st.Page("views/train_page.py", title="Train", icon=":material/model_training:", url_path="train"),
            st.Page("views/latent_page.py", title="Latent", icon=":material/tune:", url_path="latent"),
        ],
        "Results": [
            st.Page("views/explore_page.py", title="Explore", icon=":material/scatter_plot:", url_path="explore",
                    default=explore_first),
            st.Page("views/clusters_page.py", title="Clusters", icon=":material/bubble_chart:", url_path="clusters"),
            st.Page("views/compare_page.py", title="Compare", icon=":material/table_chart:", url_path="compare"),
        ],
    }

    page = st.navigation(pages)
    explore_url.restore()  # a shared link's view, before the sidebar's widgets are drawn
    sidebar.sidebar()
    try:
        page.run()
    finally:  # after the page (also one that stopped early): its first view is drawn before the warm-up starts
        warmup_job.warm_up()
        warmup_job.warm_up_status()


# Streamlit runs this file as "__main__" and leaves it installed as sys.modules["__main__"]. A worker
# process (feature extraction) started while a rerun swaps that module in re-imports the main script by
# path, as "__mp_main__" (core.parallel hides the path, but only from the module current when its pool
# starts): the dashboard, its background warm-up included, must then not run in the worker.
if __name__ == "__main__":
    main()

# The page files live in views/, not pages/: Streamlit treats a `pages/` folder beside the entry
# point as the old folder-based navigation until st.navigation runs, so a deep link opened while
# the first run was still importing (seconds on a cold start) was matched against those file names
# and answered with "Page not found".
