"""Placeholder until the page is written."""

import streamlit as st

st.title("ethogram")
