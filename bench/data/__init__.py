"""Datasets: the built-in synthetic demo corpus "synthgrid" and dataset loaders."""
