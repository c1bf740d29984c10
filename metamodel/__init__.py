"""The core of warmstart: types, spaces, meta-features, store, surrogate, recommendation."""
