"""Synthetic IPDR cases: operator-layout writers and the case simulator."""
