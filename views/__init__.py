"""The dashboard's pages, one file each. app.py hands Streamlit their paths and Streamlit runs each file
as a script; this file only makes the folder a package so that the import contracts (.importlinter) can
see what the pages import."""
