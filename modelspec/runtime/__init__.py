"""Spec -> Keras. Everything below this package may import TensorFlow; nothing above it does."""
