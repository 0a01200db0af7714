"""Evaluation: conditions -> videos, ground-truth panel, proxies, distances, reports."""
