"""Beam glue: options, DoFns, composite transforms, the CLI. No musical logic here."""
