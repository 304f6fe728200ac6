"""Training internals behind ml/train.py (the SageMaker script-mode entry point)."""
