"""Shim so Beam's ``--setup_file ./setup.py`` can package captune for Dataflow workers;
everything is declared in pyproject.toml."""

from setuptools import setup

setup()
