"""Statistics: one module per family. Estimators take DataFrames and return immutable results."""
