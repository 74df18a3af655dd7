"""Warehouse service: relief stock across the district, dispatch with approval, lineage."""
