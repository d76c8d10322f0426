"""The cross-submission near-duplicate index: links, band levels, buckets, stars, pairs."""
