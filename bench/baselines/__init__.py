"""Pipelines streamthumb is measured against, reproduced faithfully (``seed``: the blog post)."""
