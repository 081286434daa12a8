"""Busan Big Data Academy engine."""
