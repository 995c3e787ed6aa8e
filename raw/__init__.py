"""The bottom layer: one declaration of every raw table, the build database's connection and load batches."""
