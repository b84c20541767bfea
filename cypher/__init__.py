"""Cypher files (package data) and the helper that loads and checks them."""
