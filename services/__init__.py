"""Shared library of bdml: settings and profiles, AWS client factory, HQL engines, warehouse loaders,
the embedded stack's lifecycle and the CLI that fronts every pipeline."""
